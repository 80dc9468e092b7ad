//! The pairing QR code as an SVG image: one path of unit squares on a white background with
//! the standard four-module quiet zone, scaled by the browser without blurring.

use qrcode::{Color, QrCode};

/// The SVG of `payload`, or `None` when it does not fit in a QR code.
pub(crate) fn svg(payload: &str) -> Option<String> {
    let code = QrCode::new(payload.as_bytes()).ok()?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::with_capacity(colors.len() * 4);
    for (i, c) in colors.iter().enumerate() {
        if *c == Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{px}" height="{px}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path fill="#111" d="{path}"/></svg>"##,
        px = size * 6
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pairing_payload_becomes_a_square_svg_with_a_quiet_zone() {
        let s = svg("2@abc,def,ghi,jkl").unwrap();
        let code = QrCode::new(b"2@abc,def,ghi,jkl").unwrap();
        let size = code.width() + 8;
        assert!(s.starts_with("<svg"));
        assert!(s.contains(&format!(r#"viewBox="0 0 {size} {size}""#)));
        // The top-left finder pattern starts right after the quiet zone.
        assert!(s.contains("M4 4h1v1h-1z"));
        assert!(!s.contains("M0 0h1"));
    }

    #[test]
    fn payloads_too_long_for_a_qr_code_give_none() {
        assert!(svg(&"x".repeat(10_000)).is_none());
    }
}
