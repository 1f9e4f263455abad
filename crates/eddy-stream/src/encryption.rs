//! `StartStreamEncryption` and `StopStreamEncryption`.
//!
//! A stream's encryption state is its key id in the metadata snapshot
//! (`None` = `EncryptionType` `NONE`), changed like every control-plane
//! state: clone, persist atomically, swap. Changing it affects only records
//! written afterwards; stored records keep the key id their frame names
//! ([`crate::crypto`]), so stopping encryption or switching keys never
//! rewrites or strands data as long as the old keys stay configured.
//!
//! Kinesis applies the change asynchronously (the stream is `UPDATING` for
//! a few seconds); here it is in effect when the call returns. Validation
//! follows Kinesis: `EncryptionType` outside `KMS | NONE` or a `KeyId`
//! outside 1..=2048 characters is `ValidationException`; `NONE` (not
//! accepted by these operations) is `InvalidArgumentException`; an unknown
//! key is `KMSNotFoundException`. `StopStreamEncryption` of a stream that is
//! not encrypted succeeds without change; naming a key other than the
//! stream's current one is `InvalidArgumentException`.

use crate::crypto::MAX_KEY_ID_CHARS;
use crate::error::{Error, Result};
use crate::meta;
use crate::Streams;

impl Streams {
    /// `StartStreamEncryption`: records written to `stream` from now on are
    /// encrypted (AES-256-GCM) with the key configured under `key_id`
    /// ([`crate::StreamOptions::encryption_key`]). `encryption_type` must be
    /// `"KMS"`. Calling it again with another key switches keys for new
    /// records; earlier records keep theirs.
    pub fn start_stream_encryption(
        &self,
        stream: &str,
        encryption_type: &str,
        key_id: &str,
    ) -> Result<()> {
        let name = self.check_encryption_args(stream, encryption_type, key_id)?;
        let mut st = self.inner.state.write();
        if !st.meta.streams.contains_key(&name) {
            return Err(self.stream_not_found(&name));
        }
        if self.inner.keys.get(key_id).is_none() {
            return Err(Error::KmsNotFound(format!(
                "Key {key_id} used in StartStreamEncryption on stream {name} under account {} was not found: no encryption key with this id is configured.",
                self.account()
            )));
        }
        self.set_encryption(&mut st, &name, Some(key_id.to_string()))
    }

    /// `StopStreamEncryption`: records written to `stream` from now on are
    /// stored unencrypted. `encryption_type` must be `"KMS"` and `key_id`
    /// the stream's current key; stored encrypted records stay encrypted
    /// and readable while their key is configured.
    pub fn stop_stream_encryption(
        &self,
        stream: &str,
        encryption_type: &str,
        key_id: &str,
    ) -> Result<()> {
        let name = self.check_encryption_args(stream, encryption_type, key_id)?;
        let mut st = self.inner.state.write();
        let sm = st
            .meta
            .streams
            .get(&name)
            .ok_or_else(|| self.stream_not_found(&name))?;
        match &sm.encryption_key {
            None => Ok(()),
            Some(current) if current != key_id => Err(Error::InvalidArgument(format!(
                "Stream {name} under account {} is encrypted with key {current}, not {key_id}; StopStreamEncryption must name the stream's current key.",
                self.account()
            ))),
            Some(_) => self.set_encryption(&mut st, &name, None),
        }
    }

    /// Shape checks shared by start and stop; returns the stream name.
    fn check_encryption_args(
        &self,
        stream: &str,
        encryption_type: &str,
        key_id: &str,
    ) -> Result<String> {
        if !matches!(encryption_type, "KMS" | "NONE") {
            return Err(Error::validation(
                encryption_type,
                "encryptionType",
                "Member must satisfy enum value set: [KMS, NONE]",
            ));
        }
        let chars = key_id.chars().count();
        if chars == 0 {
            return Err(Error::validation(
                key_id,
                "keyId",
                "Member must have length greater than or equal to 1",
            ));
        }
        if chars > MAX_KEY_ID_CHARS {
            return Err(Error::validation(
                key_id,
                "keyId",
                "Member must have length less than or equal to 2048",
            ));
        }
        let name = self.resolve(stream)?;
        if encryption_type == "NONE" {
            return Err(Error::InvalidArgument(format!(
                "Encryption type NONE is not valid for stream encryption operations on stream {name} under account {}; use KMS.",
                self.account()
            )));
        }
        Ok(name)
    }

    /// Persist `key` as the encryption state of stream `name`.
    fn set_encryption(&self, st: &mut crate::State, name: &str, key: Option<String>) -> Result<()> {
        let mut next = st.meta.clone();
        let Some(s) = next.streams.get_mut(name) else {
            return Err(self.stream_not_found(name));
        };
        if s.encryption_key == key {
            return Ok(());
        }
        s.encryption_key = key;
        meta::save(self.inner.opts.fs.as_ref(), &self.inner.dir, &next)?;
        st.meta = next;
        Ok(())
    }
}
