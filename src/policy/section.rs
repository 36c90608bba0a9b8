//! The four sections of a policy document, shared by the reader, the elements (which
//! sections an element may appear in) and the executor.

/// One of the four sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    Inbound,
    Backend,
    Outbound,
    OnError,
}

impl SectionKind {
    /// In pipeline order.
    pub const ALL: [SectionKind; 4] = [
        SectionKind::Inbound,
        SectionKind::Backend,
        SectionKind::Outbound,
        SectionKind::OnError,
    ];

    /// The element name, also `context.LastError.Section`.
    pub fn as_str(self) -> &'static str {
        match self {
            SectionKind::Inbound => "inbound",
            SectionKind::Backend => "backend",
            SectionKind::Outbound => "outbound",
            SectionKind::OnError => "on-error",
        }
    }

    /// Position in [`SectionKind::ALL`].
    pub(crate) fn index(self) -> usize {
        match self {
            SectionKind::Inbound => 0,
            SectionKind::Backend => 1,
            SectionKind::Outbound => 2,
            SectionKind::OnError => 3,
        }
    }
}
