//! Where a request may go: the allow-list of origins (decided on the parsed URL) and the
//! address policy (decided on each resolved address, before connecting to it); and which
//! targets bypass the egress proxy (the no-proxy list).

mod address;
mod allow_list;
mod no_proxy;

pub use address::AddressPolicy;
pub(crate) use allow_list::{Admission, AllowList, OriginPattern};
pub(crate) use no_proxy::NoProxy;
