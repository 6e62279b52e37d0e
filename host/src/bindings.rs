//! Host-side bindings of the `gcs-datastore` world, generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "gcs-datastore",
    exports: { default: async },
});
