//! Downloading the certified attestation of an attached diploma.

use std::fmt;
use std::sync::Arc;

use crate::error::PortError;
use crate::link::LinkId;
use crate::ports::{
    Attestation, AttestationRenderer, Clock, CredentialExporter, LinkRepository, RecordReader,
    RenderedAttestation,
};
use crate::profile::ProfileId;

/// What the graduate asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadAttestationRequest {
    pub profile: ProfileId,
    pub link: LinkId,
}

/// Why no attestation was produced.
#[derive(Debug, thiserror::Error)]
pub enum DownloadAttestationError {
    /// No such link in this profile.
    #[error("attestation not found")]
    NotFound,
    /// The exam office withdrew the record: no attestation can certify it.
    #[error("the record was withdrawn by the exam office")]
    Withdrawn,
    #[error(transparent)]
    Unexpected(#[from] PortError),
}

/// Use case: produce an attestation document.
#[derive(Clone)]
pub struct DownloadAttestation {
    pub links: Arc<dyn LinkRepository>,
    pub records: Arc<dyn RecordReader>,
    pub renderer: Arc<dyn AttestationRenderer>,
    /// Exports the same facts as a W3C Verifiable Credential.
    pub credentials: Arc<dyn CredentialExporter>,
    pub clock: Arc<dyn Clock>,
}

impl fmt::Debug for DownloadAttestation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DownloadAttestation")
    }
}

impl DownloadAttestation {
    /// # Errors
    /// [`DownloadAttestationError`].
    pub async fn execute(
        &self,
        request: DownloadAttestationRequest,
    ) -> Result<RenderedAttestation, DownloadAttestationError> {
        let attestation = self.attestation(request).await?;
        Ok(self.renderer.render(&attestation).await?)
    }

    /// The same attestation as a W3C Verifiable Credential (VC Data Model 2.0, secured
    /// as `application/vc+jwt`).
    ///
    /// # Errors
    /// [`DownloadAttestationError`].
    pub async fn credential(
        &self,
        request: DownloadAttestationRequest,
    ) -> Result<RenderedAttestation, DownloadAttestationError> {
        let attestation = self.attestation(request).await?;
        Ok(self.credentials.export(&attestation)?)
    }

    /// What an attestation of the holder's live link certifies, now.
    async fn attestation(
        &self,
        request: DownloadAttestationRequest,
    ) -> Result<Attestation, DownloadAttestationError> {
        let link = self
            .links
            .get_owned(request.link, request.profile)
            .await?
            .ok_or(DownloadAttestationError::NotFound)?;
        if !link.is_active() {
            return Err(DownloadAttestationError::Withdrawn);
        }
        let record = self
            .records
            .get_many(&[link.record])
            .await?
            .into_iter()
            .next()
            .ok_or(DownloadAttestationError::Withdrawn)?;
        Ok(Attestation {
            record,
            key: link.key,
            issued_at: self.clock.now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkState;
    use crate::ports::{MockAttestationRenderer, MockLinkRepository, MockRecordReader};
    use crate::testing::*;

    fn use_case(
        links: MockLinkRepository,
        records: MockRecordReader,
        renderer: MockAttestationRenderer,
    ) -> DownloadAttestation {
        DownloadAttestation {
            links: Arc::new(links),
            records: Arc::new(records),
            renderer: Arc::new(renderer),
            credentials: Arc::new(crate::ports::MockCredentialExporter::new()),
            clock: Arc::new(clock()),
        }
    }

    fn request() -> DownloadAttestationRequest {
        DownloadAttestationRequest {
            profile: profile_id(1),
            link: link_id(1),
        }
    }

    #[tokio::test]
    async fn the_attestation_carries_the_record_and_the_current_key() {
        let mut links = MockLinkRepository::new();
        links
            .expect_get_owned()
            .returning(|_, _| Ok(Some(link(1, 1, 1, "ABCD1234"))));
        let mut records = MockRecordReader::new();
        records
            .expect_get_many()
            .returning(|_| Ok(vec![record(1, marie(), scope())]));
        let mut renderer = MockAttestationRenderer::new();
        renderer
            .expect_render()
            .withf(|a| {
                a.key.as_str() == "ABCD1234" && a.record.id == record_id(1) && a.issued_at == NOW
            })
            .times(1)
            .returning(|_| {
                Ok(RenderedAttestation {
                    media_type: "application/pdf",
                    file_name: "attestation.pdf".into(),
                    bytes: b"%PDF-1.7".to_vec(),
                })
            });
        let doc = use_case(links, records, renderer)
            .execute(request())
            .await
            .unwrap();
        assert_eq!(doc.bytes, b"%PDF-1.7");
    }

    #[tokio::test]
    async fn another_profiles_link_is_not_found() {
        let mut links = MockLinkRepository::new();
        links.expect_get_owned().returning(|_, _| Ok(None));
        let mut renderer = MockAttestationRenderer::new();
        renderer.expect_render().never();
        let result = use_case(links, MockRecordReader::new(), renderer)
            .execute(request())
            .await;
        assert!(matches!(result, Err(DownloadAttestationError::NotFound)));
    }

    #[tokio::test]
    async fn a_withdrawn_record_gets_no_attestation() {
        let mut links = MockLinkRepository::new();
        links.expect_get_owned().returning(|_, _| {
            let mut l = link(1, 1, 1, "ABCD1234");
            l.state = LinkState::Withdrawn { at: NOW };
            Ok(Some(l))
        });
        let mut renderer = MockAttestationRenderer::new();
        renderer.expect_render().never();
        let result = use_case(links, MockRecordReader::new(), renderer)
            .execute(request())
            .await;
        assert!(matches!(result, Err(DownloadAttestationError::Withdrawn)));
    }

    #[tokio::test]
    async fn a_rendering_failure_is_unexpected() {
        let mut links = MockLinkRepository::new();
        links
            .expect_get_owned()
            .returning(|_, _| Ok(Some(link(1, 1, 1, "ABCD1234"))));
        let mut records = MockRecordReader::new();
        records
            .expect_get_many()
            .returning(|_| Ok(vec![record(1, marie(), scope())]));
        let mut renderer = MockAttestationRenderer::new();
        renderer
            .expect_render()
            .returning(|_| Err(PortError::unexpected("font missing")));
        let result = use_case(links, records, renderer).execute(request()).await;
        assert!(matches!(
            result,
            Err(DownloadAttestationError::Unexpected(_))
        ));
    }
}
