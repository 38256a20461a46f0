//! Size limits on what a client sends, shared by the token parser and the errors that name
//! them. A leaf module: it imports nothing from the crate.

/// Larger tokens are refused before any parsing (a token travels in a header; 64 KiB is far
/// beyond any real one).
pub const MAX_TOKEN_BYTES: usize = 65536;
/// The longest subject (`sub`) accepted, in bytes: it keys the membership cache and
/// `boards.users.auth_subject`. Longer: 22023.
pub const MAX_SUBJECT_BYTES: usize = 255;
/// The largest claims set accepted (the decoded payload), in bytes: the claims travel in the
/// tenant context and fill the verified-token cache. Larger: 22023.
pub const MAX_CLAIMS_BYTES: usize = 16384;
