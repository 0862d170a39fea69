#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| octohook::internal::fuzz_json_depth(data));
