//! The two uuid types the extension moves between: pgrx's (SQL values) and the `uuid` crate's
//! (the core crate's types). Both are 16 bytes in the same order.

pub fn to_pg_uuid(id: uuid::Uuid) -> pgrx::Uuid {
    pgrx::Uuid::from_bytes(*id.as_bytes())
}

pub fn from_pg_uuid(id: pgrx::Uuid) -> uuid::Uuid {
    uuid::Uuid::from_bytes(*id.as_bytes())
}
