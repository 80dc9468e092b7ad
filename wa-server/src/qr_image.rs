//! The pairing QR code as an image for `GET /v1/devices/{id}/qr?format=svg|png`: the SVG is
//! the dashboard's drawing; the PNG (8-bit greyscale, one zlib stream) is drawn here from the
//! QR module matrix with the same 4-module quiet zone, black on white.

use std::io::Write;

use qrcode::{Color, QrCode};

/// Width of the white border, in modules (the QR standard's minimum).
const QUIET: usize = 4;

/// Pixels per module in the PNG.
const PNG_SCALE: usize = 8;

/// Dark modules of the code with its quiet zone: `(side, dark[y * side + x])`.
fn modules(payload: &str) -> Option<(usize, Vec<bool>)> {
    let code = QrCode::new(payload.as_bytes()).ok()?;
    let width = code.width();
    let side = width + 2 * QUIET;
    let mut dark = vec![false; side * side];
    for (i, c) in code.to_colors().into_iter().enumerate() {
        if c == Color::Dark {
            dark[(i / width + QUIET) * side + i % width + QUIET] = true;
        }
    }
    Some((side, dark))
}

pub(crate) use crate::dashboard::qr::svg;

/// The code as a PNG image; None when `payload` is too long for a QR code.
pub fn png(payload: &str) -> Option<Vec<u8>> {
    let (side, dark) = modules(payload)?;
    let px = side * PNG_SCALE;
    // Each scanline: filter type 0, then one grey byte per pixel.
    let mut raw = Vec::with_capacity(px * (px + 1));
    for y in 0..px {
        raw.push(0);
        let row = (y / PNG_SCALE) * side;
        for x in 0..px {
            raw.push(if dark[row + x / PNG_SCALE] { 0 } else { 255 });
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&raw).ok()?;
    let idat = z.finish().ok()?;

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(px as u32).to_be_bytes());
    ihdr.extend_from_slice(&(px as u32).to_be_bytes());
    // Bit depth 8, colour type 0 (greyscale), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Some(out)
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &str = "2@abc,def,ghi,jkl";

    #[test]
    fn png_has_signature_square_header_and_valid_chunk_crcs() {
        let img = png(PAYLOAD).unwrap();
        assert_eq!(&img[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&img[12..16], b"IHDR");
        let w = u32::from_be_bytes(img[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(img[20..24].try_into().unwrap());
        assert_eq!(w, h);
        assert_eq!(w as usize % PNG_SCALE, 0);
        // Walk the chunks and check each CRC.
        let mut at = 8;
        let mut kinds = Vec::new();
        while at < img.len() {
            let len = u32::from_be_bytes(img[at..at + 4].try_into().unwrap()) as usize;
            let body = &img[at + 4..at + 8 + len];
            let mut crc = flate2::Crc::new();
            crc.update(body);
            let stored = u32::from_be_bytes(img[at + 8 + len..at + 12 + len].try_into().unwrap());
            assert_eq!(crc.sum(), stored);
            kinds.push(String::from_utf8_lossy(&body[..4]).to_string());
            at += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
    }

    #[test]
    fn png_pixels_match_the_module_matrix() {
        use std::io::Read;
        let (side, dark) = modules(PAYLOAD).unwrap();
        let img = png(PAYLOAD).unwrap();
        let len = u32::from_be_bytes(img[33..37].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&img[41..41 + len])
            .read_to_end(&mut raw)
            .unwrap();
        let px = side * PNG_SCALE;
        assert_eq!(raw.len(), px * (px + 1));
        for (i, d) in dark.iter().enumerate() {
            let (x, y) = (i % side * PNG_SCALE, i / side * PNG_SCALE);
            let pixel = raw[y * (px + 1) + 1 + x];
            assert_eq!(pixel, if *d { 0 } else { 255 }, "module {i}");
        }
        // The quiet zone is white.
        assert!(!dark[..side * QUIET].iter().any(|d| *d));
    }

    #[test]
    fn payloads_too_long_for_a_qr_code_give_none() {
        assert!(png(&"x".repeat(8000)).is_none());
    }
}
