//! eddy's item model: DynamoDB's data types and everything computed from
//! them alone.
//!
//! This crate is the vocabulary the rest of eddy speaks. It depends on no
//! other eddy crate, and the change log, the table store and the streams
//! depend on it and on nothing else of eddy's. It holds:
//!
//! * [`AttributeValue`] with DynamoDB's ten types and [`Number`], an exact
//!   decimal with DynamoDB's 38-digit precision and range;
//! * [`Item`]s, [`KeySchema`]s, and the order-preserving byte encoding of
//!   primary keys ([`key`]) that makes sled's order DynamoDB's sort order;
//! * item sizes by DynamoDB's rules ([`size`]), which enforce the 400 KB
//!   limit and give change records their `SizeBytes`;
//! * [`TableDef`]s and their secondary indexes ([`index`]): DynamoDB's
//!   rules for them and the entry each item contributes to each index;
//! * [`Change`] and [`ChangeRecord`], what the write-ahead log stores;
//! * the JSON record DynamoDB writes into Kinesis for each change
//!   ([`stream_record`]), byte for byte;
//! * [`io`], the one narrow file layer every log-structured file goes
//!   through, so tests can inject fsync failures, full disks and torn writes;
//! * DynamoDB JSON ([`json`]) and the binary [`codec`], the only place
//!   anything is encoded for storage.
//!
//! Invariants: a [`Number`] is always normalised and within range; sets
//! never hold duplicates; every decoder returns errors, never panics, on
//! arbitrary bytes.
//!
//! ```
//! use eddy_model::{Item, KeySchema, KeyType};
//! let schema = KeySchema::new("pk", KeyType::S);
//! let item = Item::from_json_str(r#"{"pk":{"S":"a"},"n":{"N":"1.0"}}"#)?;
//! schema.validate_item(&item)?;
//! assert_eq!(item.size(), 2 + 1 + 1 + 2);
//! # Ok::<(), eddy_model::Error>(())
//! ```

pub mod change;
pub mod codec;
pub mod destination;
pub mod error;
pub mod expr;
pub mod index;
pub mod io;
pub mod json;
pub mod key;
pub mod number;
pub mod size;
pub mod stream_record;
pub mod table;
pub mod value;

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;

pub use change::{Change, ChangeKind, ChangeOrigin, ChangeRecord};
pub use destination::{DestinationStatus, StreamingDestination};
pub use error::{error_chain, Error, Result};
pub use index::{IndexDef, IndexKind, Projection as IndexProjection};
pub use key::{KeyAttribute, KeySchema, KeyType};
pub use number::Number;
pub use size::{item_size, MAX_ITEM_SIZE};
pub use stream_record::Precision;
pub use table::{validate_table_name, TableDef};
pub use value::{AttributeType, AttributeValue, Item, Map};
