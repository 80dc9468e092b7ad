//! The incremental frame decoder (server side, with intro and routing prefix) fed the input
//! in chunks whose sizes come from the input itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_core::noise::FrameDecoder;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut dec = if first & 1 == 0 {
        FrameDecoder::expecting_intro()
    } else {
        FrameDecoder::new()
    }
    .with_max_frame_len(4096);
    let chunk = usize::from(first >> 1).max(1);
    let mut total = 0;
    for piece in rest.chunks(chunk) {
        dec.push(piece);
        loop {
            match dec.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= 4096);
                    total += frame.len() + 3;
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
    assert!(total <= rest.len());
});
