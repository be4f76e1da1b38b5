#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| argocd_drift_fuzz::report_v1(data));
