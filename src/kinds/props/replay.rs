//! Replayed responses (filled in below).
