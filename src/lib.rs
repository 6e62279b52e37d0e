//! gcs-datastore: swamp's Google Cloud Storage datastore as a WASI 0.2 component.
//!
//! (crate map written in full once the layout settles)

pub mod auth;
pub mod cache_fs;
pub mod config;
pub mod error;
pub mod gcs;
pub mod lock;
pub mod retry;
pub mod sync;
pub mod transport;
pub mod verify;

#[cfg(test)]
mod test_fake;

#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod wasi_platform;
