//! The serde tag of an enum value (`type` of an adjacently tagged event, `kind` of an
//! internally tagged finding), read from its `Serialize` impl so names are never kept by hand.

use serde::ser::{self, Impossible, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// The tag serde writes for `value`: the variant name of an externally or adjacently tagged
/// enum, or the `type`/`kind` field of an internally tagged one. `None` for anything else.
pub fn tag_of<T: Serialize + ?Sized>(value: &T) -> Option<Cow<'static, str>> {
    value.serialize(TagOnly).ok()
}

/// The tag as a static name; only externally and adjacently tagged enums have one.
pub fn static_tag_of<T: Serialize + ?Sized>(value: &T) -> &'static str {
    match tag_of(value) {
        Some(Cow::Borrowed(s)) => s,
        _ => "?",
    }
}

#[derive(Debug)]
pub struct NoTag;
impl fmt::Display for NoTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a tagged enum")
    }
}
impl std::error::Error for NoTag {}
impl ser::Error for NoTag {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NoTag
    }
}

struct TagOnly;

/// A struct whose `type` or `kind` field is the tag; the other fields are never serialized.
struct TagField(Option<Cow<'static, str>>);

/// An enum variant already named; its fields are skipped.
struct Named(&'static str);

type Tag = Result<Cow<'static, str>, NoTag>;

macro_rules! no_tag {
    ($($f:ident($t:ty)),*) => {
        $(fn $f(self, _: $t) -> Tag { Err(NoTag) })*
    };
}

impl Serializer for TagOnly {
    type Ok = Cow<'static, str>;
    type Error = NoTag;
    type SerializeSeq = Impossible<Self::Ok, NoTag>;
    type SerializeTuple = Impossible<Self::Ok, NoTag>;
    type SerializeTupleStruct = Impossible<Self::Ok, NoTag>;
    type SerializeTupleVariant = Named;
    type SerializeMap = Impossible<Self::Ok, NoTag>;
    type SerializeStruct = TagField;
    type SerializeStructVariant = Named;

    no_tag!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    fn serialize_str(self, v: &str) -> Tag {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn serialize_none(self) -> Tag {
        Err(NoTag)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Tag {
        Err(NoTag)
    }
    fn serialize_unit(self) -> Tag {
        Err(NoTag)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Tag {
        Ok(Cow::Borrowed(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Tag {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: &T,
    ) -> Tag {
        Ok(Cow::Borrowed(variant))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NoTag> {
        Err(NoTag)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NoTag> {
        Err(NoTag)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NoTag> {
        Err(NoTag)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Named, NoTag> {
        Ok(Named(variant))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NoTag> {
        Err(NoTag)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<TagField, NoTag> {
        Ok(TagField(None))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Named, NoTag> {
        Ok(Named(variant))
    }
}

impl ser::SerializeStruct for TagField {
    type Ok = Cow<'static, str>;
    type Error = NoTag;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), NoTag> {
        if self.0.is_none() && matches!(key, "type" | "kind") {
            self.0 = v.serialize(TagOnly).ok();
        }
        Ok(())
    }
    fn end(self) -> Tag {
        self.0.ok_or(NoTag)
    }
}

impl ser::SerializeStructVariant for Named {
    type Ok = Cow<'static, str>;
    type Error = NoTag;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _: &'static str,
        _: &T,
    ) -> Result<(), NoTag> {
        Ok(())
    }
    fn end(self) -> Tag {
        Ok(Cow::Borrowed(self.0))
    }
}

impl ser::SerializeTupleVariant for Named {
    type Ok = Cow<'static, str>;
    type Error = NoTag;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), NoTag> {
        Ok(())
    }
    fn end(self) -> Tag {
        Ok(Cow::Borrowed(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(tag = "type", content = "payload")]
    enum Adjacent {
        Opened { id: u32 },
        Closed,
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Internal {
        RevokeLag { id: String },
    }

    #[test]
    fn tags_come_from_serde() {
        assert_eq!(static_tag_of(&Adjacent::Opened { id: 1 }), "Opened");
        assert_eq!(static_tag_of(&Adjacent::Closed), "Closed");
        let lag = Internal::RevokeLag { id: "x".into() };
        assert_eq!(tag_of(&lag).as_deref(), Some("revoke_lag"));
        assert_eq!(tag_of(&42u8), None);
    }
}
