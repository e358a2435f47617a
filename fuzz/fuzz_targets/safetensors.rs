#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bbs_fuzz::check("safetensors", data));
