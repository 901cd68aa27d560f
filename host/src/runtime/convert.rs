//! Conversions between the newest contract's generated types
//! (`wit::latest`) and the host's `contract` types. Mechanical by design: one
//! function per record. Older contract versions reach the host through
//! latest's types (their bindings in `wit/` adapt onto them), so nothing here
//! knows which version a plugin implements.

use super::wit::latest::types as wit;
use super::wit::latest::webhooks;
use crate::contract as host;

pub(super) fn pairs_to_wit(pairs: &[(String, String)]) -> Vec<wit::KeyValue> {
    pairs
        .iter()
        .map(|(key, value)| wit::KeyValue {
            key: key.clone(),
            value: value.clone(),
        })
        .collect()
}

pub(super) fn pairs(list: Vec<wit::KeyValue>) -> host::Pairs {
    list.into_iter().map(|kv| (kv.key, kv.value)).collect()
}

fn headers(list: Vec<wit::Header>) -> host::Pairs {
    list.into_iter().map(|h| (h.name, h.value)).collect()
}

pub(super) fn settings(s: &host::Settings) -> wit::Settings {
    wit::Settings {
        config: pairs_to_wit(&s.config),
        secrets: pairs_to_wit(&s.secrets),
    }
}

pub(super) fn incoming_request(r: &host::IncomingRequest) -> wit::IncomingRequest {
    wit::IncomingRequest {
        method: r.method.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r
            .headers
            .iter()
            .map(|(name, value)| wit::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        body: r.body.clone(),
    }
}

pub(super) fn verification(v: wit::Verification) -> host::Verification {
    match v {
        wit::Verification::Accepted => host::Verification::Accepted,
        wit::Verification::Rejected(reason) => host::Verification::Rejected(reason),
        wit::Verification::Challenge(r) => host::Verification::Challenge(host::OutgoingResponse {
            status: r.status,
            headers: headers(r.headers),
            body: r.body,
        }),
    }
}

pub(super) fn credentials(c: wit::Credentials) -> host::Credentials {
    host::Credentials {
        access_token: c.access_token,
        refresh_token: c.refresh_token,
        expires_at_ms: c.expires_at_ms,
        refresh_expires_at_ms: c.refresh_expires_at_ms,
        extra: pairs(c.extra),
    }
}

pub(super) fn credentials_to_wit(c: &host::Credentials) -> wit::Credentials {
    wit::Credentials {
        access_token: c.access_token.clone(),
        refresh_token: c.refresh_token.clone(),
        expires_at_ms: c.expires_at_ms,
        refresh_expires_at_ms: c.refresh_expires_at_ms,
        extra: pairs_to_wit(&c.extra),
    }
}

pub(super) fn authorization(a: wit::Authorization) -> host::Authorization {
    host::Authorization {
        credentials: credentials(a.credentials),
        identity: host::ChannelIdentity {
            external_id: a.identity.external_id,
            display_name: a.identity.display_name,
            username: a.identity.username,
            avatar_url: a.identity.avatar_url,
        },
    }
}

pub(super) fn context(c: &host::ChannelContext) -> wit::ChannelContext {
    wit::ChannelContext {
        settings: settings(&c.settings),
        external_id: c.external_id.clone(),
        credentials: credentials_to_wit(&c.credentials),
    }
}

fn kind(k: wit::AttachmentKind) -> host::AttachmentKind {
    match k {
        wit::AttachmentKind::Image => host::AttachmentKind::Image,
        wit::AttachmentKind::Audio => host::AttachmentKind::Audio,
        wit::AttachmentKind::Video => host::AttachmentKind::Video,
        wit::AttachmentKind::File => host::AttachmentKind::File,
        wit::AttachmentKind::Embed => host::AttachmentKind::Embed,
        wit::AttachmentKind::Location => host::AttachmentKind::Location,
    }
}

fn kind_to_wit(k: host::AttachmentKind) -> wit::AttachmentKind {
    match k {
        host::AttachmentKind::Image => wit::AttachmentKind::Image,
        host::AttachmentKind::Audio => wit::AttachmentKind::Audio,
        host::AttachmentKind::Video => wit::AttachmentKind::Video,
        host::AttachmentKind::File => wit::AttachmentKind::File,
        host::AttachmentKind::Embed => wit::AttachmentKind::Embed,
        host::AttachmentKind::Location => wit::AttachmentKind::Location,
    }
}

fn status(s: wit::DeliveryStatus) -> host::DeliveryStatus {
    match s {
        wit::DeliveryStatus::Sent => host::DeliveryStatus::Sent,
        wit::DeliveryStatus::Delivered => host::DeliveryStatus::Delivered,
        wit::DeliveryStatus::Read => host::DeliveryStatus::Read,
        wit::DeliveryStatus::Failed => host::DeliveryStatus::Failed,
    }
}

fn message_event(m: wit::MessageEvent) -> host::MessageEvent {
    host::MessageEvent {
        channel_external_id: m.channel_external_id,
        conversation_id: m.conversation_id,
        contact: host::ContactProfile {
            external_id: m.contact.external_id,
            name: m.contact.name,
            username: m.contact.username,
            avatar_url: m.contact.avatar_url,
        },
        message_id: m.message_id,
        sent_at_ms: m.sent_at_ms,
        text: m.text,
        attachments: m
            .attachments
            .into_iter()
            .map(|a| host::InboundAttachment {
                kind: kind(a.kind),
                url: a.url,
                media_ref: a.media_ref,
                mime_type: a.mime_type,
                file_name: a.file_name,
                metadata: pairs(a.metadata),
            })
            .collect(),
        reply_to: m.reply_to,
        unsupported: m.unsupported,
    }
}

pub(super) fn event(e: wit::ChannelEvent) -> host::ChannelEvent {
    match e {
        wit::ChannelEvent::Message(m) => host::ChannelEvent::Message(message_event(m)),
        wit::ChannelEvent::Echo(m) => host::ChannelEvent::Echo(message_event(m)),
        wit::ChannelEvent::Status(s) => host::ChannelEvent::Status(host::StatusEvent {
            channel_external_id: s.channel_external_id,
            conversation_id: s.conversation_id,
            message_id: s.message_id,
            status: status(s.status),
            up_to_ms: s.up_to_ms,
            error: s.error,
        }),
        wit::ChannelEvent::Ignored(reason) => host::ChannelEvent::Ignored(reason),
    }
}

pub(super) fn channel_error(e: wit::ChannelError) -> host::ChannelError {
    use host::ErrorCode as H;
    use wit::ErrorCode as W;
    let code = match e.code {
        W::InvalidRequest => H::InvalidRequest,
        W::Unauthorized => H::Unauthorized,
        W::ReauthorizationRequired => H::ReauthorizationRequired,
        W::AccessDenied => H::AccessDenied,
        W::RateLimited => H::RateLimited,
        W::ProviderUnavailable => H::ProviderUnavailable,
        W::ProviderRejected => H::ProviderRejected,
        W::Network => H::Network,
        W::Unsupported => H::Unsupported,
        W::Internal => H::Internal,
    };
    host::ChannelError {
        code,
        message: e.message,
        retryable: e.retryable,
        retry_after_ms: e.retry_after_ms,
    }
}

pub(super) fn outbound_message(m: &host::OutboundMessage) -> wit::OutboundMessage {
    wit::OutboundMessage {
        conversation_id: m.conversation_id.clone(),
        recipient_id: m.recipient_id.clone(),
        text: m.text.clone(),
        attachments: m
            .attachments
            .iter()
            .map(|a| wit::OutboundAttachment {
                kind: kind_to_wit(a.kind),
                file_name: a.file_name.clone(),
                mime_type: a.mime_type.clone(),
                data: a.data.clone(),
            })
            .collect(),
        reply_to: m.reply_to.clone(),
        idempotency_key: m.idempotency_key.clone(),
    }
}

pub(super) fn sent_message(m: wit::SentMessage) -> host::SentMessage {
    host::SentMessage {
        message_id: m.message_id,
        status: status(m.status),
    }
}

pub(super) fn media(m: wit::Media) -> host::Media {
    host::Media {
        mime_type: m.mime_type,
        file_name: m.file_name,
        data: m.data,
    }
}

pub(super) fn manifest(m: wit::Manifest) -> host::Manifest {
    host::Manifest {
        id: m.id,
        name: m.name,
        version: m.version,
        contract_version: m.contract_version,
        description: m.description,
        settings: m
            .settings
            .into_iter()
            .map(|s| host::SettingSpec {
                key: s.key,
                description: s.description,
                required: s.required,
                secret: s.secret,
                default_value: s.default_value,
            })
            .collect(),
        outbound_hosts: m.outbound_hosts,
        limits: host::ContentLimits {
            max_text_chars: m.limits.max_text_chars,
            max_attachments: m.limits.max_attachments,
            text_with_attachments: m.limits.text_with_attachments,
            attachment_kinds: m.limits.attachment_kinds.into_iter().map(kind).collect(),
            attachment_mime_types: m.limits.attachment_mime_types,
            max_attachment_bytes: m.limits.max_attachment_bytes,
        },
        reply_window: match m.reply_window {
            wit::ReplyWindow::Unlimited => host::ReplyWindow::Unlimited,
            wit::ReplyWindow::AfterInboundSecs(secs) => host::ReplyWindow::AfterInboundSecs(secs),
        },
        supports_authorization: m.supports_authorization,
    }
}

pub(super) fn webhook_registration(r: webhooks::WebhookRegistration) -> host::WebhookRegistration {
    host::WebhookRegistration {
        callback_url: r.callback_url,
        details: pairs(r.details),
    }
}
