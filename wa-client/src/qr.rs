//! [`QrCode`]: the pairing QR string, and its rendering for a terminal.

use qrcode::render::unicode::Dense1x2;

/// A pairing QR code (the string the phone scans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// The QR string (`https://wa.me/settings/linked_devices#ref,noise,identity,adv,platform`).
    pub code: String,
}

impl QrCode {
    /// The code drawn with unicode half blocks (two modules per character row), light on
    /// dark so it scans from a dark terminal.
    pub fn to_terminal(&self) -> String {
        match qrcode::QrCode::new(self.code.as_bytes()) {
            Ok(qr) => qr
                .render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
            Err(_) => self.code.clone(),
        }
    }
}

impl std::fmt::Display for QrCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_rendering_has_one_line_per_two_module_rows() {
        let qr = QrCode {
            code: "https://wa.me/settings/linked_devices#2@abc,AAAA,BBBB,CCCC,1".into(),
        };
        let text = qr.to_terminal();
        let lines: Vec<_> = text.lines().collect();
        let size = qrcode::QrCode::new(qr.code.as_bytes()).unwrap().width() + 8;
        assert_eq!(lines.len(), size.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == size));
    }
}
