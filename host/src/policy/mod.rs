//! Where a request may go: the allow-list of origins (decided on the parsed URL) and the
//! address policy (decided on each resolved address, before connecting to it).

mod address;
mod allow_list;

pub use address::AddressPolicy;
pub(crate) use allow_list::{Admission, AllowList, OriginPattern};
