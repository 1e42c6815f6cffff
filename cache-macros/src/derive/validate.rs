//! Validating the item `#[derive(Cache)]` is on, and the options against each other. Every
//! problem is reported on the token at fault.

use syn::{Data, DeriveInput, Fields, Ident, Type, Visibility};

use super::args::ModuleArgs;
use crate::diag::Diagnostics;

/// A cache module ready to expand.
pub(crate) struct Module {
    pub(crate) ident: Ident,
    pub(crate) vis: Visibility,
    pub(crate) key: Type,
    pub(crate) value: Type,
    pub(crate) args: ModuleArgs,
}

/// Checks `input` and `args`, reporting every problem to `diag`. Returns the module whenever
/// there is enough to generate its functions (a key, a value and no generics), even if something
/// else is wrong: the caller then emits those functions beside the errors, so uses of
/// `Users::get` elsewhere do not pile further errors on the real one.
pub(crate) fn validate(
    input: &DeriveInput,
    mut args: ModuleArgs,
    diag: &mut Diagnostics,
) -> Option<Module> {
    const UNIT: &str =
        "`#[derive(Cache)]` declares a cache module on a unit struct, like `pub struct Users;`";
    match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Unit => {}
            fields => diag.error(
                fields,
                format!(
                    "{UNIT}: the cache lives in a static the derive generates, so the struct has no fields"
                ),
            ),
        },
        Data::Enum(data) => diag.error(data.enum_token, format!("{UNIT}, not an enum")),
        Data::Union(data) => diag.error(data.union_token, format!("{UNIT}, not a union")),
    }
    let generic = !input.generics.params.is_empty() || input.generics.where_clause.is_some();
    if generic {
        diag.error(
            &input.generics,
            "a cache module cannot be generic: its cache is one static; declare one module per key and value type",
        );
    }
    let Some(attr) = &args.attr else {
        diag.error(
            &input.ident,
            "`#[derive(Cache)]` needs its options: add `#[cache(key = KeyType, value = ValueType)]`",
        );
        return None;
    };
    let key = args.key.take();
    let value = args.value.take();
    for (missing, option, what) in [
        (key.is_none(), "key", "KeyType"),
        (value.is_none(), "value", "ValueType"),
    ] {
        if missing {
            diag.error(
                attr,
                format!("missing `{option}`: add `{option} = {what}` to `#[cache(...)]`"),
            );
        }
    }
    args.common.check_backend(args.config.is_some(), diag);
    if let Some((_, weigher)) = args.common.weigher_without_capacity()
        && args.config.is_none()
    {
        diag.error(
            weigher,
            "a `weigher` bounds the cache's total weight: also give `capacity = <max total weight>`",
        );
    }
    check_warmer(&args, diag);
    if generic {
        return None;
    }
    Some(Module {
        ident: input.ident.clone(),
        vis: input.vis.clone(),
        key: key?,
        value: value?,
        args,
    })
}

/// `warm_every` and `warm_wait` belong to a `warmer`, and a `warmer` needs its interval.
fn check_warmer(args: &ModuleArgs, diag: &mut Diagnostics) {
    match &args.warmer {
        Some((warmer, _)) if args.warm_every.is_none() => diag.error(
            warmer,
            "a `warmer` runs on an interval: also give `warm_every = \"5m\"`",
        ),
        Some(_) => {}
        None => {
            for (name, _) in [&args.warm_every, &args.warm_wait].into_iter().flatten() {
                diag.error(
                    name,
                    format!(
                        "`{name}` is an option of the cache's warmer: also give `warmer = path::to::fn`"
                    ),
                );
            }
        }
    }
}
