#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| argocd_drift_fuzz::drift_engine(data));
