//! Fixtures for the auth unit tests: test keys and credential files, and an in-memory
//! environment. The transport, clock and executor are the crate's test doubles.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::json;

use super::CredentialEnv;
pub(crate) use crate::test_doubles::{run, FakeClock, ScriptedTransport};

/// The committed throw-away test key (see fixtures/auth/README.md). TEST KEY, not a secret.
pub(crate) const TEST_KEY_PEM: &str = include_str!("../../fixtures/auth/test-sa-key.pem");

/// Its public half.
pub(crate) const TEST_PUBLIC_KEY_PEM: &str =
    include_str!("../../fixtures/auth/test-sa-key.pub.pem");

/// A service-account key file for the test key.
pub(crate) fn test_key_json(token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "test-project",
        "private_key_id": "test-key-id-0001",
        "private_key": TEST_KEY_PEM,
        "client_email": "sa@test-project.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    })
    .to_string()
}

/// An `authorized_user` file whose secrets contain the marker `SECRET`.
pub(crate) fn user_json(token_uri: &str) -> String {
    json!({
        "type": "authorized_user",
        "client_id": "cid.apps",
        "client_secret": "cs-SECRET",
        "refresh_token": "1//refresh-SECRET",
        "token_uri": token_uri,
    })
    .to_string()
}

/// Decode one field of a form body (enough for the values the tests send).
pub(crate) fn form_field(body: &str, name: &str) -> Option<String> {
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Shared file map, so a test can change a file after handing the env to a provider.
pub(crate) type Files = Rc<RefCell<HashMap<String, String>>>;

/// An in-memory [`CredentialEnv`].
#[derive(Default)]
pub(crate) struct FakeEnv {
    vars: HashMap<String, String>,
    files: Files,
    unreadable: Vec<String>,
}

impl FakeEnv {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    pub(crate) fn file(self, path: &str, content: &str) -> Self {
        self.files.borrow_mut().insert(path.into(), content.into());
        self
    }

    pub(crate) fn unreadable(mut self, path: &str) -> Self {
        self.unreadable.push(path.into());
        self
    }

    pub(crate) fn files_handle(&self) -> Files {
        Rc::clone(&self.files)
    }
}

impl CredentialEnv for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        if self.unreadable.iter().any(|p| p == path) {
            return Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
        }
        self.files
            .borrow()
            .get(path)
            .map(|c| c.clone().into_bytes())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
    }
}
