//! Chatwoot's enum codes as Rust enums (a leaf module: the store reads and
//! writes them, the domain and the views name them). Chatwoot stores these as integers
//! (or, for sender types, class names) and shows names in JSON; this file is
//! the one place either form is converted. The store reads and writes codes
//! through [`ChatwootCode::code`] and [`ChatwootCode::from_code`]; views and
//! requests use the names.

/// An enum with Chatwoot's stored code and JSON name for each value.
pub trait ChatwootCode: Sized + Copy + 'static {
    /// Every value, in code order.
    const ALL: &'static [Self];
    /// The stored code.
    fn code(self) -> i64;
    /// The JSON name.
    fn name(self) -> &'static str;
    /// The value of a stored code.
    fn from_code(code: i64) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
    /// The value of a JSON name.
    fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }
}

macro_rules! chatwoot_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal => $json:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl ChatwootCode for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),+];
            fn code(self) -> i64 {
                match self { $(Self::$variant => $code),+ }
            }
            fn name(self) -> &'static str {
                match self { $(Self::$variant => $json),+ }
            }
        }
    };
}

chatwoot_enum!(
    /// A conversation's status.
    ConversationStatus {
        /// Waiting for an agent.
        Open = 0 => "open",
        /// Done; a contact writing again reopens it.
        Resolved = 1 => "resolved",
        /// Waiting on something else (e.g. a bot).
        Pending = 2 => "pending",
        /// Hidden until a time or the contact's next message.
        Snoozed = 3 => "snoozed",
    }
);

impl ConversationStatus {
    /// `toggle_status` without a target: open → resolved, anything else → open.
    pub fn toggled(self) -> Self {
        if self == Self::Open {
            Self::Resolved
        } else {
            Self::Open
        }
    }
}

chatwoot_enum!(
    /// Who a message is from, as Chatwoot types it.
    MessageType {
        /// From the contact.
        Incoming = 0 => "incoming",
        /// From an agent (or the business's own app).
        Outgoing = 1 => "outgoing",
        /// A system note in the timeline.
        Activity = 2 => "activity",
        /// A provider template.
        Template = 3 => "template",
    }
);

chatwoot_enum!(
    /// How far an outgoing message got.
    MessageStatus {
        /// Accepted by us or the provider.
        Sent = 0 => "sent",
        /// On the contact's device.
        Delivered = 1 => "delivered",
        /// Read by the contact.
        Read = 2 => "read",
        /// Not delivered; `external_error` says why.
        Failed = 3 => "failed",
    }
);

chatwoot_enum!(
    /// Who wrote a message (Chatwoot's polymorphic `sender_type`), stored by
    /// its class name.
    SenderType {
        /// An agent.
        User = 0 => "User",
        /// The contact.
        Contact = 1 => "Contact",
    }
);
