//! berth end-to-end test harness
