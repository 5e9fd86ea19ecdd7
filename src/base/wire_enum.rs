//! One way to write an enum whose variants stand for numbers on a wire or
//! in storage: each variant is declared once with its number, and the way
//! back from a number is made from that same list, so the two cannot
//! drift apart.

/// Declares an enum whose variants carry explicit numbers, and a private
/// `const fn from_wire_value(value: T) -> Option<Self>` (with `T` the type
/// named after the enum's name) that gives the variant a number names.
/// The number of a variant is `variant as T`.
///
/// ```text
/// wire_enum! {
///     /// A colour byte.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum Colour: u8 {
///         /// Red.
///         Red = 1,
///         /// Green.
///         Green = 2,
///     }
/// }
/// ```
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $repr:ty {
            $( $(#[$variant_meta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant = $value, )+
        }

        impl $name {
            /// The variant `value` names, if any.
            const fn from_wire_value(value: $repr) -> Option<$name> {
                match value {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use wire_enum;
