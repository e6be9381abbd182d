//! Signed offline bundles.
