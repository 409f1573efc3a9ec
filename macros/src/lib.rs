//! `#[webhook_handler("pattern")]`: see the `bigcommerce-app` crate.
//!
//! The pattern is checked at compile time against the scope catalogue (`scopes.json`, through
//! `bigcommerce-app-catalogue`), so a typo is a compile error that names the closest scopes. The
//! function becomes a unit struct of the same name that implements `WebhookHandler`; the
//! function itself stays callable as `name::call(...)`.

use std::sync::OnceLock;

use bigcommerce_app_catalogue::{Catalogue, ChannelSelector, Pattern, ScopeEntry, ScopeKind};
use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, PathArguments, ReturnType, Type};

/// Registers an async fn as the handler of the webhook events its pattern matches.
///
/// ```ignore
/// #[webhook_handler("store/channel/<id>/order/*")]
/// async fn on_channel_order(event: ChannelOrderEvent, channel: ChannelId, tenant: Tenant)
///     -> Result<(), HandlerError> { ... }
/// ```
#[proc_macro_attribute]
pub fn webhook_handler(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.clone().into();
    match expand(attr.into(), item2.clone()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // Keep the function so the only error shown is the real one.
            let error = error.to_compile_error();
            quote!(#error #item2).into()
        }
    }
}

fn catalogue() -> Result<&'static Catalogue, String> {
    static CATALOGUE: OnceLock<Result<Catalogue, String>> = OnceLock::new();
    CATALOGUE
        .get_or_init(|| bigcommerce_app_catalogue::bundled().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// What the pattern resolved to.
struct Resolved {
    /// Variant names of the matched concrete scopes.
    variants: Vec<String>,
    /// The matched concrete scopes.
    scopes: Vec<&'static ScopeEntry>,
    /// The catalogue wildcard the pattern is spelled as.
    wildcard_entry: Option<&'static ScopeEntry>,
    catch_all: bool,
    channel_pattern: bool,
    channel: Option<u64>,
    wildcard: Option<String>,
}

fn resolve(lit: &LitStr) -> syn::Result<Resolved> {
    let text = lit.value();
    if text == "*" {
        return Ok(Resolved {
            variants: Vec::new(),
            scopes: Vec::new(),
            wildcard_entry: None,
            catch_all: true,
            channel_pattern: false,
            channel: None,
            wildcard: None,
        });
    }
    let catalogue = catalogue().map_err(|e| syn::Error::new(lit.span(), e))?;
    let pattern = Pattern::parse(&text).map_err(|e| syn::Error::new(lit.span(), e))?;
    let scopes = pattern
        .resolve(catalogue)
        .map_err(|e| syn::Error::new(lit.span(), e))?;
    let wildcard_entry = pattern.catalogue_wildcard(catalogue);
    Ok(Resolved {
        variants: scopes.iter().map(|s| s.variant.clone()).collect(),
        scopes,
        wildcard_entry,
        catch_all: false,
        channel_pattern: pattern.kind == ScopeKind::ChannelTemplated,
        channel: match pattern.channel {
            Some(ChannelSelector::One(id)) => Some(id),
            _ => None,
        },
        wildcard: pattern
            .catalogue_wildcard(catalogue)
            .map(|w| w.variant.clone()),
    })
}

/// The kind of a handler argument, from the last segment of its type path.
enum ArgKind {
    State(Box<Type>),
    Context,
    Channel,
    Event,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn classify(ty: &Type) -> syn::Result<ArgKind> {
    let Some(segment) = last_segment(ty) else {
        return Ok(ArgKind::Event);
    };
    Ok(match segment.ident.to_string().as_str() {
        "State" => {
            let inner = match &segment.arguments {
                PathArguments::AngleBracketed(args) if args.args.len() == 1 => {
                    match args.args.first() {
                        Some(GenericArgument::Type(t)) => t.clone(),
                        _ => return Err(syn::Error::new(ty.span(), "expected `State<T>`")),
                    }
                }
                _ => return Err(syn::Error::new(ty.span(), "expected `State<T>`")),
            };
            ArgKind::State(Box::new(inner))
        }
        "Tenant" | "Meta" => ArgKind::Context,
        "ChannelId" => ArgKind::Channel,
        _ => ArgKind::Event,
    })
}

/// `Result<(), E>` (or an alias such as `anyhow::Result<()>`-style `XResult<()>`).
fn check_return(output: &ReturnType, fn_span: Span) -> syn::Result<()> {
    const HELP: &str =
        "a webhook handler returns `Result<(), E>`: `E` is `HandlerError`, any `std::error::Error + Send + Sync + 'static`, or with the `anyhow`/`eyre` feature a report (`anyhow::Result<()>`)";
    let ty = match output {
        ReturnType::Default => return Err(syn::Error::new(fn_span, HELP)),
        ReturnType::Type(_, ty) => ty,
    };
    let ok = last_segment(ty).is_some_and(|segment| {
        segment.ident.to_string().ends_with("Result")
            && match &segment.arguments {
                PathArguments::AngleBracketed(args) => matches!(
                    args.args.first(),
                    Some(GenericArgument::Type(Type::Tuple(t))) if t.elems.is_empty()
                ),
                _ => false,
            }
    });
    if ok {
        Ok(())
    } else {
        Err(syn::Error::new(ty.span(), HELP))
    }
}

/// The scopes a generated event type can hold, by its name: a scope's payload type
/// (`OrderCreated`), a payload struct shared by several scopes (`ResourceRef`), a group enum
/// (`OrderEvent`). `None` for `Event` and for names the catalogue does not generate.
fn scopes_of_type(
    catalogue: &'static Catalogue,
    name: &str,
) -> Option<(String, Vec<&'static ScopeEntry>)> {
    if let Some(scope) = catalogue.concrete().find(|s| s.variant == name) {
        return Some((
            format!("the payload of `{}`", scope.pattern_form()),
            vec![scope],
        ));
    }
    if let Some(wildcard) = catalogue
        .wildcards()
        .find(|w| w.group_enum_name().as_deref() == Some(name))
    {
        return Some((
            format!("the group enum of `{}`", wildcard.pattern_form()),
            catalogue.members(wildcard),
        ));
    }
    let users: Vec<&ScopeEntry> = catalogue
        .concrete()
        .filter(|s| s.payload.as_deref() == Some(name))
        .collect();
    (!users.is_empty()).then(|| {
        (
            format!("the payload struct of {} scopes", users.len()),
            users,
        )
    })
}

/// The type to take for `scopes`: the scope's own payload type, the pattern's group enum, the
/// smallest group enum holding them all, or `Event`.
fn suggested_type(catalogue: &'static Catalogue, resolved: &Resolved) -> String {
    if resolved.catch_all {
        return "Event".into();
    }
    if let [one] = resolved.scopes.as_slice() {
        return one.variant.clone();
    }
    if let Some(name) = resolved
        .wildcard_entry
        .and_then(ScopeEntry::group_enum_name)
    {
        return name;
    }
    catalogue
        .wildcards()
        .map(|w| (w, catalogue.members(w)))
        .filter(|(_, members)| {
            resolved
                .scopes
                .iter()
                .all(|s| members.iter().any(|m| m.variant == s.variant))
        })
        .min_by_key(|(_, members)| members.len())
        .and_then(|(w, _)| w.group_enum_name())
        .unwrap_or_else(|| "Event".into())
}

/// A generated event type named in the signature that cannot hold every scope the pattern
/// matches: an error naming the pattern and the type to take instead. Types the catalogue does
/// not name are left to the `HoldsScope` check the expansion carries.
fn check_event_type(ty: &Type, lit: &LitStr, resolved: &Resolved) -> syn::Result<()> {
    let Some(name) = last_segment(ty).map(|s| s.ident.to_string()) else {
        return Ok(());
    };
    let Ok(catalogue) = catalogue() else {
        return Ok(());
    };
    let Some((what, holds)) = scopes_of_type(catalogue, &name) else {
        return Ok(());
    };
    let missing: Vec<&ScopeEntry> = resolved
        .scopes
        .iter()
        .copied()
        .filter(|s| !holds.iter().any(|h| h.variant == s.variant))
        .collect();
    if missing.is_empty() && !resolved.catch_all {
        return Ok(());
    }
    let matched = if resolved.catch_all {
        "every event, including scopes the catalogue does not know".to_owned()
    } else if let [one] = resolved.scopes.as_slice() {
        format!("`{}`", one.pattern_form())
    } else {
        let listed: Vec<String> = missing
            .iter()
            .take(3)
            .map(|s| format!("`{}`", s.pattern_form()))
            .collect();
        let more = missing.len().saturating_sub(3);
        format!(
            "{} scopes, {} of them not held by `{name}`: {}{}",
            resolved.scopes.len(),
            missing.len(),
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    };
    Err(syn::Error::new(
        ty.span(),
        format!(
            "`{name}` is {what}, but `{}` matches {matched}: take `{}` instead",
            lit.value(),
            suggested_type(catalogue, resolved)
        ),
    ))
}

fn expand(attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let lit: LitStr =
        syn::parse2(attr.clone()).map_err(|_| {
            syn::Error::new(
            if attr.is_empty() { Span::call_site() } else { attr.span() },
            "expected the webhook pattern as a string: #[webhook_handler(\"store/order/created\")]",
        )
        })?;
    let func: ItemFn = syn::parse2(item)?;
    let resolved = resolve(&lit)?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            "a webhook handler must be an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a webhook handler cannot be generic",
        ));
    }
    check_return(&sig.output, sig.ident.span())?;

    let mut extract = Vec::new();
    let mut arg_names = Vec::new();
    let mut state_types = Vec::new();
    let mut event_type: Option<Type> = None;
    for (i, input) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(arg) = input else {
            return Err(syn::Error::new(
                input.span(),
                "a webhook handler is a free function; it cannot take `self`",
            ));
        };
        let ty = &*arg.ty;
        match classify(ty)? {
            ArgKind::State(inner) => state_types.push(*inner),
            ArgKind::Context => {}
            ArgKind::Channel => {
                if !resolved.channel_pattern {
                    return Err(syn::Error::new(
                        ty.span(),
                        format!(
                            "`ChannelId` is only available to channel patterns \
                             (store/channel/<id>/...); `{}` is not one",
                            lit.value()
                        ),
                    ));
                }
            }
            ArgKind::Event => {
                if event_type.is_some() {
                    return Err(syn::Error::new(
                        ty.span(),
                        "a webhook handler takes at most one event argument",
                    ));
                }
                check_event_type(ty, &lit, &resolved)?;
                event_type = Some(ty.clone());
            }
        }
        let name = format_ident!("__arg{}", i);
        extract.push(quote_spanned! {ty.span()=>
            let #name = <#ty as ::bigcommerce_app::FromCall>::from_call(&mut call)?;
        });
        arg_names.push(name);
    }

    // Compile-time check that the event argument can hold every matched scope.
    let holds = event_type.as_ref().map(|ty| {
        let markers: Vec<TokenStream2> = if resolved.catch_all {
            vec![quote!(::bigcommerce_app::events::AnyScope)]
        } else if let Some(wildcard) = &resolved.wildcard {
            let v = format_ident!("{}", wildcard);
            vec![quote!(::bigcommerce_app::events::scope_marker::#v)]
        } else {
            resolved
                .variants
                .iter()
                .map(|v| {
                    let v = format_ident!("{}", v);
                    quote!(::bigcommerce_app::events::scope_marker::#v)
                })
                .collect()
        };
        let checks = markers.iter().map(|m| {
            quote_spanned! {ty.span()=> __holds::<#ty, #m>(); }
        });
        quote! {
            const _: () = {
                fn __holds<T: ?Sized + ::bigcommerce_app::events::HoldsScope<S>, S>() {}
                #[allow(dead_code)]
                fn __check() { #(#checks)* }
            };
        }
    });

    let name = &sig.ident;
    let vis = &func.vis;
    let pattern = lit.value();
    let (docs, attrs): (Vec<_>, Vec<_>) = func.attrs.iter().partition(|a| a.path().is_ident("doc"));
    let inputs = &sig.inputs;
    let output = &sig.output;
    let block = &func.block;
    let scopes = resolved.variants.iter().map(|v| {
        let v = format_ident!("{}", v);
        quote!(::bigcommerce_app::events::Scope::#v)
    });
    let catch_all = resolved.catch_all;
    let channel = match resolved.channel {
        Some(id) => quote!(::core::option::Option::Some(#id)),
        None => quote!(::core::option::Option::None),
    };
    let wildcard = match &resolved.wildcard {
        Some(v) => {
            let v = format_ident!("{}", v);
            quote!(::core::option::Option::Some(::bigcommerce_app::events::Scope::#v))
        }
        None => quote!(::core::option::Option::None),
    };
    let error_span = match output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    // Method resolution picks the conversion: `anyhow`/`eyre` reports first, then any error.
    let into_error = quote_spanned! {error_span=>
        ::core::result::Result::map_err(#name::call(#(#arg_names),*).await, |error| {
            #[allow(unused_imports)]
            use ::bigcommerce_app::__private::into_handler_error::{Failure, ViaError as _, ViaReport as _};
            let failure = Failure(error);
            (&failure).path().convert(failure)
        })
    };
    Ok(quote! {
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy, Debug)]
        #vis struct #name;

        impl #name {
            /// The handler function as written.
            #(#attrs)*
            #vis async fn call(#inputs) #output #block

            /// The route registered for this handler.
            pub const ROUTE: ::bigcommerce_app::Route = ::bigcommerce_app::Route {
                name: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                pattern: #pattern,
                scopes: &[#(#scopes),*],
                catch_all: #catch_all,
                channel: #channel,
                wildcard: #wildcard,
                state_types: || ::std::vec![#((
                    ::core::any::TypeId::of::<#state_types>(),
                    ::core::any::type_name::<#state_types>(),
                )),*],
                call: |#[allow(unused_mut)] mut call: ::bigcommerce_app::Call|
                    -> ::bigcommerce_app::__private::HandlerFuture {
                    ::std::boxed::Box::pin(async move {
                        #(#extract)*
                        #into_error
                    })
                },
            };
        }

        impl ::bigcommerce_app::WebhookHandler for #name {
            fn route(&self) -> ::bigcommerce_app::Route {
                #name::ROUTE
            }
        }

        ::bigcommerce_app::__private::inventory::submit! {
            ::bigcommerce_app::__private::Registration(|| #name::ROUTE)
        }

        #holds
    })
}
