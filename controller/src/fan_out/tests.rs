use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use sealed_secrets_core::names::{
    FAN_OUT_DIGEST_ANNOTATION, FAN_OUT_FROM_ANNOTATION, FAN_OUT_NAMESPACES_ANNOTATION,
    FAN_OUT_SELECTOR_ANNOTATION, FAN_OUT_SOURCE_NAME_LABEL, FAN_OUT_SOURCE_NAMESPACE_LABEL,
    FAN_OUT_SOURCE_UID_ANNOTATION, MANAGED_ANNOTATION, PATCH_ANNOTATION,
};
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::types::SealedSecretCondition;
use time::OffsetDateTime;

use super::*;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn meta(annotations: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some("db".to_owned()),
        namespace: Some("src".to_owned()),
        annotations: Some(map(annotations)),
        ..ObjectMeta::default()
    }
}

fn ns(name: &str, labels: &[(&str, &str)], consent: Option<&str>) -> NamespaceInfo {
    NamespaceInfo {
        name: name.to_owned(),
        labels: map(labels),
        consent: consent.map(str::to_owned),
        terminating: false,
    }
}

const SOURCE: Source<'static> = Source {
    namespace: "src",
    name: "db",
    uid: "uid-1",
};

#[test]
fn only_annotated_objects_ask() {
    assert!(!asks(&meta(&[])));
    assert!(request(&meta(&[]), Scope::ClusterWide).is_none());
    assert!(asks(&meta(&[(FAN_OUT_NAMESPACES_ANNOTATION, "a")])));
    assert!(asks(&meta(&[(FAN_OUT_SELECTOR_ANNOTATION, "team=x")])));
}

#[test]
fn a_request_parses_names_and_a_selector() {
    let m = meta(&[
        (FAN_OUT_NAMESPACES_ANNOTATION, " a, b ,,a"),
        (FAN_OUT_SELECTOR_ANNOTATION, "team in (x,y)"),
    ]);
    let r = request(&m, Scope::ClusterWide).unwrap().unwrap();
    assert_eq!(
        r.namespaces.iter().map(String::as_str).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(r.selector.unwrap().matches(&map(&[("team", "y")])));
}

#[test]
fn only_a_cluster_wide_object_may_fan_out() {
    let m = meta(&[(FAN_OUT_NAMESPACES_ANNOTATION, "a")]);
    for scope in [Scope::Strict, Scope::NamespaceWide] {
        let e = request(&m, scope).unwrap().unwrap_err();
        assert_eq!(e, RequestError::NotClusterWide);
        assert_eq!(e.reason(), REASON_NOT_CLUSTER_WIDE);
    }
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    for (key, value) in [
        (FAN_OUT_NAMESPACES_ANNOTATION, "Upper"),
        (FAN_OUT_NAMESPACES_ANNOTATION, "-a"),
        (FAN_OUT_NAMESPACES_ANNOTATION, "a/b"),
        (FAN_OUT_SELECTOR_ANNOTATION, "team in (x"),
    ] {
        let e = request(&meta(&[(key, value)]), Scope::ClusterWide)
            .unwrap()
            .unwrap_err();
        assert_eq!(e.reason(), REASON_INVALID_REQUEST, "{value}");
        assert!(!e.to_string().contains('\n'));
    }
    let many = (0..=MAX_NAMESPACES)
        .map(|i| format!("n{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let e = request(
        &meta(&[(FAN_OUT_NAMESPACES_ANNOTATION, many.as_str())]),
        Scope::ClusterWide,
    )
    .unwrap()
    .unwrap_err();
    assert!(e.to_string().contains("more than"));
    let mut long = meta(&[(FAN_OUT_NAMESPACES_ANNOTATION, "a")]);
    long.name = Some("x".repeat(64));
    assert_eq!(
        request(&long, Scope::ClusterWide).unwrap().unwrap_err(),
        RequestError::NameTooLong
    );
}

#[test]
fn consent_names_the_source_namespace_or_any() {
    assert!(!ns("b", &[], None).consents_to("src"));
    assert!(!ns("b", &[], Some("other")).consents_to("src"));
    assert!(!ns("b", &[], Some("srcx")).consents_to("src"));
    assert!(ns("b", &[], Some("other, src")).consents_to("src"));
    assert!(ns("b", &[], Some("*")).consents_to("src"));
}

#[test]
fn namespace_info_reads_labels_consent_and_deletion() {
    let n = Namespace {
        metadata: ObjectMeta {
            name: Some("b".to_owned()),
            labels: Some(map(&[("team", "x")])),
            annotations: Some(map(&[(FAN_OUT_FROM_ANNOTATION, "src")])),
            deletion_timestamp: Some(Time(k8s_openapi::jiff::Timestamp::now())),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    let info = NamespaceInfo::of(&n);
    assert_eq!(info.name, "b");
    assert_eq!(info.labels, map(&[("team", "x")]));
    assert!(info.consents_to("src"));
    assert!(info.terminating);
}

#[test]
fn targets_need_a_request_and_consent() {
    let m = meta(&[
        (FAN_OUT_NAMESPACES_ANNOTATION, "b,c,gone,src"),
        (FAN_OUT_SELECTOR_ANNOTATION, "team=x"),
    ]);
    let r = request(&m, Scope::ClusterWide).unwrap().unwrap();
    let mut dying = ns("f", &[("team", "x")], Some("src"));
    dying.terminating = true;
    let all = [
        ns("src", &[("team", "x")], Some("*")),
        ns("b", &[], Some("src")),
        ns("c", &[], None),
        ns("e", &[("team", "x")], Some("*")),
        ns("g", &[("team", "y")], Some("*")),
        ns("h", &[("team", "x")], Some("other")),
        dying,
    ];
    let t = targets(&r, "src", &all);
    assert_eq!(
        t.wanted.iter().map(String::as_str).collect::<Vec<_>>(),
        ["b", "e"]
    );
    // c (named) and h (selected) do not consent.
    assert_eq!(t.without_consent, 2);
    // "gone" does not exist, f is being deleted; the source's own namespace is not counted.
    assert_eq!(t.missing, 2);
}

fn desired() -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some("db".to_owned()),
            namespace: Some("src".to_owned()),
            uid: Some("secret-uid".to_owned()),
            resource_version: Some("7".to_owned()),
            owner_references: Some(vec![OwnerReference {
                api_version: "bitnami.com/v1alpha1".to_owned(),
                kind: "SealedSecret".to_owned(),
                name: "db".to_owned(),
                uid: "uid-1".to_owned(),
                controller: Some(true),
                ..OwnerReference::default()
            }]),
            labels: Some(map(&[("app", "db")])),
            annotations: Some(map(&[
                (PATCH_ANNOTATION, "true"),
                (MANAGED_ANNOTATION, "true"),
                (FAN_OUT_DIGEST_ANNOTATION, "stale"),
                ("keep", "me"),
            ])),
            ..ObjectMeta::default()
        },
        ..Secret::default()
    }
}

#[test]
fn a_copy_is_marked_with_its_source_and_owns_nothing() {
    let copy = copy_of(&desired(), "b", &SOURCE);
    let m = &copy.metadata;
    assert_eq!(m.namespace.as_deref(), Some("b"));
    assert_eq!(m.name.as_deref(), Some("db"));
    assert!(m.owner_references.is_none());
    assert!(m.uid.is_none() && m.resource_version.is_none());
    let labels = m.labels.as_ref().unwrap();
    assert_eq!(labels["app"], "db");
    assert_eq!(labels[FAN_OUT_SOURCE_NAMESPACE_LABEL], "src");
    assert_eq!(labels[FAN_OUT_SOURCE_NAME_LABEL], "db");
    let annotations = m.annotations.as_ref().unwrap();
    assert_eq!(annotations[FAN_OUT_SOURCE_UID_ANNOTATION], "uid-1");
    assert_eq!(annotations["keep"], "me");
    for gone in [
        PATCH_ANNOTATION,
        MANAGED_ANNOTATION,
        FAN_OUT_DIGEST_ANNOTATION,
    ] {
        assert!(!annotations.contains_key(gone), "{gone}");
    }
    assert!(is_copy_of(&copy, &SOURCE));
    assert_eq!(
        source_of(&copy.metadata),
        Some(("src".to_owned(), "db".to_owned()))
    );
}

#[test]
fn a_copy_is_recognised_by_uid_not_by_labels() {
    let copy = copy_of(&desired(), "b", &SOURCE);
    let recreated = Source {
        uid: "uid-2",
        ..SOURCE
    };
    assert!(!is_copy_of(&copy, &recreated));
    let no_uid = Source { uid: "", ..SOURCE };
    assert!(!is_copy_of(&copy, &no_uid));
    let mut forged = copy.clone();
    forged
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .remove(FAN_OUT_SOURCE_UID_ANNOTATION);
    assert!(!is_copy_of(&forged, &SOURCE));
    assert!(!is_copy_of(&desired(), &SOURCE));
}

#[test]
fn the_record_is_stored_and_removed() {
    let mut copy = copy_of(&desired(), "b", &SOURCE);
    assert_eq!(record_of_copy(&copy), None);
    set_record(&mut copy, Some("r1".to_owned()));
    assert_eq!(record_of_copy(&copy), Some("r1"));
    set_record(&mut copy, None);
    assert_eq!(record_of_copy(&copy), None);
}

#[test]
fn selectors_list_copies_by_source() {
    assert_eq!(
        copies_selector(&SOURCE),
        format!("{FAN_OUT_SOURCE_NAMESPACE_LABEL}=src,{FAN_OUT_SOURCE_NAME_LABEL}=db")
    );
    assert_eq!(
        all_copies_selector(Some("src")),
        format!("{FAN_OUT_SOURCE_NAMESPACE_LABEL}=src")
    );
    assert_eq!(all_copies_selector(None), FAN_OUT_SOURCE_NAMESPACE_LABEL);
}

#[test]
fn the_condition_counts_and_never_names() {
    let ok = Report {
        current: 2,
        refused: 1,
        missing: 1,
        failed: 0,
    }
    .condition();
    assert!(ok.ok);
    assert_eq!(ok.reason, REASON_DONE);
    assert!(
        ok.message
            .starts_with("2 namespaces have a current copy, 1 refused")
    );
    let bad = Report {
        failed: 1,
        ..Report::default()
    }
    .condition();
    assert!(!bad.ok);
    assert_eq!(bad.reason, REASON_WRITE_FAILED);
}

#[test]
fn the_condition_is_set_updated_and_removed() {
    let t0 = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let t1 = OffsetDateTime::from_unix_timestamp(1_700_000_100).unwrap();
    let mut conditions = vec![SealedSecretCondition {
        type_: "Synced".to_owned(),
        status: "True".to_owned(),
        ..SealedSecretCondition::default()
    }];
    let good = Report {
        current: 1,
        ..Report::default()
    }
    .condition();
    assert!(apply_condition(&mut conditions, Some(&good), t0));
    assert!(had_fan_out(&conditions));
    let c = conditions
        .iter()
        .find(|c| c.type_ == FAN_OUT_CONDITION)
        .unwrap();
    assert_eq!(c.status, "True");
    assert_eq!(c.last_transition_time, Some(format_time(t0)));
    // The same again: nothing changes, not even the times.
    assert!(!apply_condition(&mut conditions, Some(&good), t1));
    let c = conditions
        .iter()
        .find(|c| c.type_ == FAN_OUT_CONDITION)
        .unwrap();
    assert_eq!(c.last_update_time, Some(format_time(t0)));
    let bad = Report {
        failed: 1,
        ..Report::default()
    }
    .condition();
    assert!(apply_condition(&mut conditions, Some(&bad), t1));
    let c = conditions
        .iter()
        .find(|c| c.type_ == FAN_OUT_CONDITION)
        .unwrap();
    assert_eq!(c.status, "False");
    assert_eq!(c.last_transition_time, Some(format_time(t1)));
    assert!(apply_condition(&mut conditions, None, t1));
    assert!(!had_fan_out(&conditions));
    assert!(!apply_condition(&mut conditions, None, t1));
    assert_eq!(conditions.len(), 1);
}
