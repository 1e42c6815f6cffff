//! Expanding a validated cache module: one `impl` block of associated functions around a static
//! `LazyLock` that builds the cache (or keeps the configuration error) on first use. Each function is one call into the
//! runtime's [`Cache`](memokit::Cache); the expansion only wires names and types together.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::validate::Module;
use crate::options::{BackendArg, DurationArg};
use crate::paths::respan;

/// The module's functions. With `fallback`, `cache()` is left unimplemented: it is emitted beside
/// compile errors only, so the user's calls still resolve while the real mistake is fixed.
pub(crate) fn expand(module: &Module, fallback: bool) -> TokenStream {
    let Module {
        ident,
        vis,
        key,
        value,
        args,
    } = module;
    let krate = args
        .common
        .krate
        .as_ref()
        .map_or_else(|| quote!(::memokit), |path| quote!(#path));
    let private = quote!(#krate::__private);
    let key = quote!(#key);
    let value = quote!(#value);
    let backend = args
        .common
        .backend_type(&private, &key, &value)
        .unwrap_or_else(|| quote!(#private::MemoryBackend<#key, #value>));
    let name = match &args.common.name {
        Some(name) => quote!(#name),
        None => {
            let ident = ident.to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #ident))
        }
    };
    let cache_ty = quote!(#private::Cache<#key, #value, #backend>);
    let result = quote!(::core::result::Result);
    let error = quote!(#private::CacheError);
    let lookup = quote!(impl ?::core::marker::Sized + #private::Lookup<#key>);
    let lookup_async =
        quote!(impl ?::core::marker::Sized + #private::Lookup<#key> + ::core::marker::Sync);

    // Every bound the runtime needs, stated once on the impl and spanned on the user's types: a
    // key type without `Hash` is then reported on `key = ...`, not once per generated function.
    let key_span = module.key.span();
    let value_span = module.value.span();
    let bounds = {
        let key_bounds = quote_spanned!(key_span=> #key: ::core::hash::Hash + ::core::cmp::Eq + ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static);
        let value_bounds = quote_spanned!(value_span=> #value: ::core::clone::Clone + ::core::marker::Send + ::core::marker::Sync + 'static);
        quote!(where #key_bounds, #value_bounds, #backend: #private::Backend<#key, #value>)
    };

    // The static is an item of its own, outside the impl's bounds, so it names the least it can:
    // its type (spanned on the key, where a missing bound is already reported) and a builder
    // function that lives inside the impl.
    let (cache_body, build_fn) = if fallback {
        let body = quote!(::core::unreachable!("the cache module failed to compile"));
        (body, TokenStream::new())
    } else {
        let lazy_ty = respan(
            quote!(#private::LazyLock<#result<#cache_ty, #error>>),
            key_span,
        );
        let build_fn = respan(quote!(#ident::__memokit_build), key_span);
        let body = quote! {
            // Spanned on the user's key type, so clippy takes the type as theirs.
            #[allow(clippy::type_complexity)]
            static __MEMOKIT_CACHE: #lazy_ty = #private::LazyLock::new(#build_fn);
            __MEMOKIT_CACHE.as_ref().map_err(::core::clone::Clone::clone)
        };
        let build = build(module, &private, &key, &value, &backend, &name);
        let build_fn = quote! {
            fn __memokit_build() -> #result<#cache_ty, #error> {
                #build
            }
        };
        (body, build_fn)
    };

    let warm = module.args.warmer.as_ref().map(|_| {
        quote! {
            /// Runs the module's warmer now, in the current namespace, after any run in
            /// progress; how many entries it stored. A failed run keeps the values there.
            #vis fn warm() -> #result<usize, #error> {
                Self::cache()?.warm()
            }

            /// Async form of `warm`, for sync and async warmers alike.
            #vis async fn warm_async() -> #result<usize, #error> {
                Self::cache()?.warm_async().await
            }
        }
    });

    // `save()` exists only for a module with a snapshot file; its bounds (serde) are the
    // runtime's, reported on `restore = "..."`.
    let save = module.args.restore.as_ref().map(|path| {
        quote_spanned! {path.span()=>
            /// Writes the live entries of the current namespace to the module's `restore` file,
            /// atomically; how many it wrote.
            #vis fn save() -> #result<u64, #error> {
                Self::cache()?.save(#path)
            }
        }
    });

    quote! {
        #[automatically_derived]
        impl #ident #bounds {
            #warm

            /// The cache's name, as errors, stats and `memokit::caches()` show it.
            #vis const NAME: &'static str = #name;

            /// The `memokit::Cache` behind this module, built on first use, or the configuration
            /// error that keeps it from existing (returned by every function of the module).
            #vis fn cache() -> #result<&'static #cache_ty, #error> {
                #cache_body
            }

            #build_fn

            #save

            /// The backend in the current namespace, for operations specific to it.
            #vis fn backend() -> #result<impl ::core::ops::Deref<Target = #backend>, #error> {
                Self::cache()?.backend()
            }

            /// The value under `key`, if there is a live one.
            #vis fn get(key: &(#lookup)) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.get(key)
            }

            /// Stores `value` under `key` with the module's TTL, replacing any previous value.
            #vis fn insert(key: #key, value: #value) -> #result<(), #error> {
                Self::cache()?.insert(key, value)
            }

            /// Stores `value` under `key`, expiring after `ttl` instead of the module's TTL.
            #vis fn insert_with_ttl(key: #key, value: #value, ttl: #private::Duration) -> #result<(), #error> {
                Self::cache()?.insert_with_ttl(key, value, ttl)
            }

            /// Removes `key`; whether a value was there.
            #vis fn remove(key: &(#lookup)) -> #result<bool, #error> {
                Self::cache()?.remove(key)
            }

            /// Removes every entry of the current namespace.
            #vis fn clear() -> #result<(), #error> {
                Self::cache()?.clear()
            }

            /// Hits, misses, loads and contents in the current namespace (zeros if the cache
            /// could not be built).
            #vis fn stats() -> #private::Stats {
                Self::cache().map(|c| c.stats()).unwrap_or_default()
            }

            /// Live entries in the current namespace.
            #vis fn len() -> u64 {
                Self::stats().entries
            }

            /// Whether the current namespace holds no entries.
            #vis fn is_empty() -> bool {
                Self::len() == 0
            }

            /// The value under `key`, or the result of `init` stored under it; concurrent callers
            /// for one key run `init` once.
            #vis fn get_or_insert_with(key: #key, init: impl ::core::ops::FnOnce() -> #value) -> #result<#value, #error> {
                Self::cache()?.get_or_insert_with(key, init)
            }

            /// Like `get_or_insert_with` for a fallible loader: an `Err` is returned and not
            /// cached, so the next call tries again.
            #vis fn try_get_or_insert_with<__MemokitE>(
                key: #key,
                init: impl ::core::ops::FnOnce() -> #result<#value, __MemokitE>,
            ) -> #result<#value, #private::LoadError<__MemokitE>> {
                Self::cache()?.try_get_or_insert_with(key, init)
            }

            /// The live values under `keys`, in order; one round trip on Redis.
            #vis fn get_many<'q, __MemokitQ: ?::core::marker::Sized + #private::Lookup<#key> + 'q>(
                keys: impl ::core::iter::IntoIterator<Item = &'q __MemokitQ>,
            ) -> #result<::std::vec::Vec<::core::option::Option<#value>>, #error> {
                Self::cache()?.get_many(keys)
            }

            /// Stores every entry with the module's TTL; one round trip on Redis.
            #vis fn insert_many(entries: impl ::core::iter::IntoIterator<Item = (#key, #value)>) -> #result<(), #error> {
                Self::cache()?.insert_many(entries)
            }

            /// Removes every key of `keys`; how many had a live value.
            #vis fn remove_many<'q, __MemokitQ: ?::core::marker::Sized + #private::Lookup<#key> + 'q>(
                keys: impl ::core::iter::IntoIterator<Item = &'q __MemokitQ>,
            ) -> #result<u64, #error> {
                Self::cache()?.remove_many(keys)
            }

            /// The values under `keys`, loading the missing ones with one call of `load`;
            /// single-flighted per key.
            #vis fn get_or_insert_many_with<__MemokitR: ::core::iter::IntoIterator<Item = (#key, #value)>>(
                keys: impl ::core::iter::IntoIterator<Item = #key>,
                load: impl ::core::ops::FnMut(::std::vec::Vec<#key>) -> __MemokitR,
            ) -> #result<#private::HashMap<#key, #value>, #error> {
                Self::cache()?.get_or_insert_many_with(keys, load)
            }

            /// Replaces the value under `key` with `f(current)` atomically (`None` removes it);
            /// the value now stored.
            #vis fn update(
                key: #key,
                f: impl ::core::ops::FnMut(::core::option::Option<&#value>) -> ::core::option::Option<#value>,
            ) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.update(key, f)
            }

            /// Runs `f` over `keys` as one transaction; see `memokit::Cache::transaction`.
            #vis fn transaction<__MemokitR>(
                keys: impl ::core::iter::IntoIterator<Item = #key>,
                f: impl ::core::ops::FnMut(&mut #private::Transaction<'_, #key, #value>) -> __MemokitR,
            ) -> #result<__MemokitR, #error> {
                Self::cache()?.transaction(keys, f)
            }

            /// Removes `key` and returns its live value.
            #vis fn take(key: &(#lookup)) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.take(key)
            }

            /// Whether `key` has a live value, without counting a read.
            #vis fn contains_key(key: &(#lookup)) -> #result<bool, #error> {
                Self::cache()?.contains_key(key)
            }

            /// How long `key`'s value has left.
            #vis fn ttl(key: &(#lookup)) -> #result<#private::Ttl, #error> {
                Self::cache()?.ttl(key)
            }

            /// Gives `key`'s value a new deadline, `ttl` from now; whether it was live.
            #vis fn expire(key: &(#lookup), ttl: #private::Duration) -> #result<bool, #error> {
                Self::cache()?.expire(key, ttl)
            }

            /// Takes `key`'s deadline away; whether it was live.
            #vis fn persist(key: &(#lookup)) -> #result<bool, #error> {
                Self::cache()?.persist(key)
            }

            /// Counts as a read of `key` for time to idle; whether it was live.
            #vis fn touch(key: &(#lookup)) -> #result<bool, #error> {
                Self::cache()?.touch(key)
            }

            /// Drops every entry whose TTL or time to idle has passed, now; how many.
            #vis fn purge_expired() -> #result<u64, #error> {
                Self::cache()?.purge_expired()
            }

            /// Evicts until at most `max_entries` remain; how many it evicted.
            #vis fn prune(max_entries: u64) -> #result<u64, #error> {
                Self::cache()?.prune(max_entries)
            }

            /// Async form of `get`.
            #vis async fn get_async(key: &(#lookup_async)) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.get_async(key).await
            }

            /// Async form of `insert`.
            #vis async fn insert_async(key: #key, value: #value) -> #result<(), #error> {
                Self::cache()?.insert_async(key, value).await
            }

            /// Async form of `insert_with_ttl`.
            #vis async fn insert_with_ttl_async(key: #key, value: #value, ttl: #private::Duration) -> #result<(), #error> {
                Self::cache()?.insert_with_ttl_async(key, value, ttl).await
            }

            /// Async form of `remove`.
            #vis async fn remove_async(key: &(#lookup_async)) -> #result<bool, #error> {
                Self::cache()?.remove_async(key).await
            }

            /// Async form of `get_many`.
            #vis async fn get_many_async<'q, __MemokitQ: ?::core::marker::Sized + #private::Lookup<#key> + ::core::marker::Sync + 'q>(
                keys: impl ::core::iter::IntoIterator<Item = &'q __MemokitQ>,
            ) -> #result<::std::vec::Vec<::core::option::Option<#value>>, #error> {
                Self::cache()?.get_many_async(keys).await
            }

            /// Async form of `insert_many`.
            #vis async fn insert_many_async(entries: impl ::core::iter::IntoIterator<Item = (#key, #value)>) -> #result<(), #error> {
                Self::cache()?.insert_many_async(entries).await
            }

            /// Async form of `update`.
            #vis async fn update_async(
                key: #key,
                f: impl ::core::ops::FnMut(::core::option::Option<&#value>) -> ::core::option::Option<#value> + ::core::marker::Send,
            ) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.update_async(key, f).await
            }

            /// Async form of `take`.
            #vis async fn take_async(key: &(#lookup_async)) -> #result<::core::option::Option<#value>, #error> {
                Self::cache()?.take_async(key).await
            }

            /// Async form of `clear`.
            #vis async fn clear_async() -> #result<(), #error> {
                Self::cache()?.clear_async().await
            }

            /// Async form of `get_or_insert_with`: concurrent tasks missing one key await a
            /// single `init`.
            #vis async fn get_or_insert_with_async(key: #key, init: impl ::core::future::Future<Output = #value>) -> #result<#value, #error> {
                Self::cache()?.get_or_insert_with_async(key, init).await
            }

            /// Async form of `try_get_or_insert_with`.
            #vis async fn try_get_or_insert_with_async<__MemokitE>(
                key: #key,
                init: impl ::core::future::Future<Output = #result<#value, __MemokitE>>,
            ) -> #result<#value, #private::LoadError<__MemokitE>> {
                Self::cache()?.try_get_or_insert_with_async(key, init).await
            }
        }
    }
}

/// The body of the static's initializer: the attribute's settings, the `config` function, build.
fn build(
    module: &Module,
    private: &TokenStream,
    key: &TokenStream,
    value: &TokenStream,
    backend: &TokenStream,
    name: &TokenStream,
) -> TokenStream {
    let args = &module.args.common;
    let settings = quote!(__memokit_settings);
    let duration = |field: &str, arg: &Option<DurationArg>| {
        arg.as_ref().map(|d| {
            let field = format_ident!("{field}");
            let d = d.to_duration(private);
            quote!(#settings.#field = ::core::option::Option::Some(#d);)
        })
    };
    let ttl = duration("ttl", &args.ttl);
    let tti = duration("tti", &args.tti);
    let capacity = args
        .capacity
        .as_ref()
        .map(|c| quote_spanned!(c.span()=> #settings.capacity = ::core::option::Option::Some(#c);));
    let weigher = args
        .weigher
        .as_ref()
        .map(|(_, w)| quote_spanned!(w.span()=> #settings.set_weigher(#w);));
    // `cfg!(test)` expands in the user's crate: strict in its own test build only.
    let sandbox = args
        .sandbox_required
        .map(|span| quote_spanned!(span=> #settings.require_sandbox = ::core::cfg!(test);));
    let version = args
        .version
        .as_ref()
        .map(|v| quote_spanned!(v.span()=> #settings.version = #v;));
    let flight = args.distributed_flight.map(|span| {
        let lease = args.flight_lease.as_ref().map_or_else(
            || quote!(#private::DEFAULT_FLIGHT_LEASE),
            |(_, lease)| lease.to_duration(private),
        );
        quote_spanned!(span=> #settings.flight_lease = ::core::option::Option::Some(#lease);)
    });
    let disk = args.path.as_ref().map(|(_, path)| {
        let disk = quote_spanned!(path.span()=> #private::DiskOptions::new(#path));
        match args.backend {
            Some(BackendArg::Tiered(_)) => {
                quote!(#settings.backend = #private::TieredOptions::new(#disk);)
            }
            _ => quote!(#settings.backend = #disk;),
        }
    });
    let local_ttl = args.local_ttl.as_ref().map(|(_, ttl)| {
        let ttl = ttl.to_duration(private);
        quote!(#settings.backend = ::core::clone::Clone::clone(&#settings.backend).local_ttl(#ttl);)
    });
    let warmer = module
        .args
        .warmer
        .as_ref()
        .and_then(|(_, path)| path.as_ref())
        .zip(module.args.warm_every.as_ref())
        .map(|(warmer, (_, every))| {
            let every = every.to_duration(private);
            quote_spanned!(warmer.span()=> #settings.set_warmer(#warmer, #every);)
        });
    let warm_wait = module.args.warm_wait.as_ref().map(|(_, wait)| {
        let wait = wait.to_duration(private);
        quote!(#settings.warm_wait = ::core::option::Option::Some(#wait);)
    });
    let config = match &module.args.config {
        Some(path) => quote_spanned!(path.span()=> #path),
        None => quote!(|_| ::core::result::Result::Ok(())),
    };
    let built = quote!(#private::build_module(#name, #settings, #config));
    let built = match &module.args.restore {
        Some(path) => quote_spanned!(path.span()=> #private::restore_module(#built, #path)),
        None => built,
    };
    quote! {
        #[allow(unused_mut)]
        let mut #settings = #private::Settings::<#key, #value, #backend>::default();
        #ttl #tti #capacity #weigher #sandbox #version #flight #disk #local_ttl #warmer #warm_wait
        #built
    }
}
