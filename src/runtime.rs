//! Per-instance state of the component: the client, its credentials and the cache.

use crate::auth::{CredentialEnv, TokenProvider};
use crate::cache::LocalCache;
use crate::config::Config;
use crate::error::Result;
use crate::gcs::{Authorizer, GcsClient};
use crate::sync::SyncService;
use crate::wasi_platform::WasiPlatform;
use std::rc::Rc;

/// The client type the component runs with.
pub type Client = GcsClient<WasiPlatform, DatastoreAuth>;

/// One configured datastore.
pub struct Datastore {
    /// The GCS client.
    pub client: Rc<Client>,
    /// The cache directory.
    pub cache: LocalCache,
    /// The sync service over the same client and cache.
    pub sync: SyncService<WasiPlatform, DatastoreAuth>,
}

impl Datastore {
    /// Bundle a client and a cache.
    pub fn new(client: Rc<Client>, cache: LocalCache) -> Self {
        let sync = SyncService::new(client.clone(), cache.root().to_path_buf());
        Datastore {
            client,
            cache,
            sync,
        }
    }
}

/// Credentials of one datastore.
pub enum DatastoreAuth {
    /// Emulator mode: no `Authorization` header.
    None,
    /// Application Default Credentials.
    Adc {
        /// The token cache.
        provider: TokenProvider,
        /// Transport and clock for token requests.
        platform: Rc<WasiPlatform>,
    },
}

impl DatastoreAuth {
    /// The credentials a config calls for.
    pub fn for_config(cfg: &Config, platform: Rc<WasiPlatform>) -> Self {
        if cfg.emulator {
            DatastoreAuth::None
        } else {
            DatastoreAuth::Adc {
                provider: TokenProvider::new(SandboxEnv),
                platform,
            }
        }
    }
}

impl Authorizer for DatastoreAuth {
    async fn bearer(&self) -> Result<Option<String>> {
        match self {
            DatastoreAuth::None => Ok(None),
            DatastoreAuth::Adc { provider, platform } => {
                provider.token(&**platform, &**platform).await.map(Some)
            }
        }
    }

    fn invalidate(&self, rejected: &str) {
        if let DatastoreAuth::Adc { provider, .. } = self {
            provider.invalidate_token(rejected);
        }
    }
}

/// The sandbox as auth sees it: the environment the host passed, and the read-only
/// credential files it preopened.
struct SandboxEnv;

impl CredentialEnv for SandboxEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }
}
