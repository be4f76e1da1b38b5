#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| argocd_drift_fuzz::last_applied(data));
