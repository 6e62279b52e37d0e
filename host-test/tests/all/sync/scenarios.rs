//! The shared sync scenarios (the `sync-scenarios` crate: seed, traps, scale) through the
//! component: each runs as `<module>::fake::<case>` on the in-process fake and
//! `<module>::emulator::<case>` on fake-gcs-server, with [`Env`](super::support::Env) as
//! the driver. The same scenarios run natively in `src/sync/scenarios_native.rs`.

/// One test per scenario and server, in a module per scenario module.
macro_rules! component_tests {
    ($($module:ident: [$($case:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $module {
                /// On the in-process fake.
                mod fake {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $case() {
                            let mut env = crate::sync::support::Env::start(
                                crate::sync::support::Which::Fake,
                            )
                            .await;
                            sync_scenarios::$module::$case(&mut env).await;
                        }
                    )*
                }

                /// On fake-gcs-server 1.54.0.
                mod emulator {
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $case() {
                            let mut env = crate::sync::support::Env::start(
                                crate::sync::support::Which::Emulator,
                            )
                            .await;
                            sync_scenarios::$module::$case(&mut env).await;
                        }
                    )*
                }
            }
        )*
    };
}

sync_scenarios::for_each_scenario!(component_tests);
