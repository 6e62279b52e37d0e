//! The component loads, configures and moves one object through the harness.

use crate::common::*;
use gcs_host::Host;

#[tokio::test]
async fn round_trip_through_the_component() {
    let server = Server::fake("bkt").await;
    let host = Host::new().unwrap();
    let cache = Cache::new();
    cache.write("data/a.json", b"hello");
    let mut ds = open(&host, &server, "bkt", &cache, "").await;
    let meta = ds
        .put_file("data/a.json", "data/a.json", None)
        .await
        .unwrap();
    assert_eq!(meta.size, 5);
    let got = ds.get_file("data/a.json", "copy/a.json").await.unwrap();
    assert_eq!(got.generation, meta.generation);
    assert_eq!(cache.read("copy/a.json"), b"hello");
}
