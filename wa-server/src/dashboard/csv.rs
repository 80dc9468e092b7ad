//! A small CSV reader for the contact import: comma or semicolon separated, double-quoted
//! fields with `""` escapes and line breaks inside quotes, LF or CRLF line ends, and a
//! byte-order mark at the start ignored. Blank lines are skipped.

/// The records of `text`, each a list of fields, or the line where a quote was left open.
pub(crate) fn parse(text: &str) -> Result<Vec<Vec<String>>, usize> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let sep = separator(text);
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut line = 1;
    let mut quote_line = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                quoted = true;
                quote_line = line;
            }
            c if c == sep => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                line += 1;
                record.push(std::mem::take(&mut field));
                push_record(&mut records, std::mem::take(&mut record));
            }
            c => field.push(c),
        }
    }
    if quoted {
        return Err(quote_line);
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        push_record(&mut records, record);
    }
    Ok(records)
}

fn push_record(records: &mut Vec<Vec<String>>, record: Vec<String>) {
    let record: Vec<String> = record.into_iter().map(|f| f.trim().to_string()).collect();
    if record.iter().any(|f| !f.is_empty()) {
        records.push(record);
    }
}

/// Semicolons when the first line has more of them than commas (spreadsheets in locales
/// with a decimal comma write those).
fn separator(text: &str) -> char {
    let first = text.lines().next().unwrap_or("");
    let count = |c| first.chars().filter(|x| *x == c).count();
    if count(';') > count(',') { ';' } else { ',' }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_rows_are_split_on_commas_and_trimmed() {
        assert_eq!(
            parse("name,phone\nAni, 62811\r\nBudi,62812\n\n").unwrap(),
            vec![
                vec!["name", "phone"],
                vec!["Ani", "62811"],
                vec!["Budi", "62812"]
            ]
        );
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        assert_eq!(
            parse("\"Siti, \"\"Bu\"\"\",62813,\"two\nlines\"").unwrap(),
            vec![vec!["Siti, \"Bu\"", "62813", "two\nlines"]]
        );
    }

    #[test]
    fn semicolon_files_and_a_byte_order_mark_are_read() {
        assert_eq!(
            parse("\u{feff}nama;nomor\nAni;62811").unwrap(),
            vec![vec!["nama", "nomor"], vec!["Ani", "62811"]]
        );
    }

    #[test]
    fn an_open_quote_names_its_line() {
        assert_eq!(parse("a,b\nc,\"d\ne,f"), Err(2));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }
    }
}
