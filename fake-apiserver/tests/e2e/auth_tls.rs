//! Bearer tokens, forbidden resources and TLS.

use fake_apiserver::FakeApiServer;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};

use crate::common::{client, client_from_kubeconfig, reason, status_code};

#[tokio::test]
async fn a_configured_token_is_required_and_a_wrong_one_is_a_401() {
    let server = FakeApiServer::builder()
        .token("s3cret")
        .start()
        .await
        .unwrap();
    assert_eq!(server.token(), Some("s3cret"));
    let ok: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    assert!(ok.list(&ListParams::default()).await.is_ok());

    let wrong = server.kubeconfig_yaml().replace("s3cret", "nope");
    let denied: Api<ConfigMap> = Api::default_namespaced(client_from_kubeconfig(&wrong).await);
    let err = denied.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(
        (status_code(&err), reason(&err).as_str()),
        (401, "Unauthorized")
    );

    let anonymous = server
        .kubeconfig_yaml()
        .replace("  user:\n    token: \"s3cret\"\n", "  user: {}\n");
    assert!(!anonymous.contains("s3cret"));
    let denied: Api<ConfigMap> = Api::default_namespaced(client_from_kubeconfig(&anonymous).await);
    let err = denied.list(&ListParams::default()).await.unwrap_err();
    assert_eq!(status_code(&err), 401);
}

#[tokio::test]
async fn a_forbidden_resource_answers_403_with_the_rbac_message() {
    let server = FakeApiServer::builder()
        .token("t")
        .forbid("", "secrets")
        .start()
        .await
        .unwrap();
    let client = client(&server).await;
    let err = Api::<Secret>::namespaced(client.clone(), "prod")
        .list(&ListParams::default())
        .await
        .unwrap_err();
    match &err {
        kube::Error::Api(status) => {
            assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
            assert_eq!(
                status.message,
                "secrets is forbidden: User \"system:serviceaccount:default:fake-apiserver-client\" \
                 cannot list resource \"secrets\" in API group \"\" in the namespace \"prod\""
            );
        }
        other => panic!("{other:?}"),
    }
    let err = Api::<Secret>::namespaced(client.clone(), "prod")
        .get_opt("db-password")
        .await
        .unwrap_err();
    match &err {
        kube::Error::Api(status) => assert!(
            status.message.starts_with(
                "secrets \"db-password\" is forbidden: User \"system:serviceaccount:default:fake-apiserver-client\" cannot get resource \"secrets\""
            ),
            "{}",
            status.message
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        Api::<ConfigMap>::default_namespaced(client)
            .list(&ListParams::default())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn tls_works_with_the_generated_ca_and_fails_without_it() {
    let server = FakeApiServer::builder().tls(true).start().await.unwrap();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let ca = server.ca_pem().unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let cms: Api<ConfigMap> = Api::default_namespaced(client(&server).await);
    assert!(cms.list(&ListParams::default()).await.is_ok());

    let untrusted = server
        .kubeconfig_yaml()
        .lines()
        .filter(|l| !l.contains("certificate-authority-data"))
        .collect::<Vec<_>>()
        .join("\n");
    let cms: Api<ConfigMap> = Api::default_namespaced(client_from_kubeconfig(&untrusted).await);
    let err = cms.list(&ListParams::default()).await.unwrap_err();
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a TLS error, got {err:?}"
    );
}
