//! The files' own tag fields, whatever the format: ID3v2 frames (MP3, MP2,
//! AAC, WAV, AIFF), Vorbis comments (FLAC, Ogg Vorbis, Opus) and MP4 atoms
//! (M4A), read and written with `lofty`.
//!
//! Why a layer of its own: the rule of what goes where (`super`) speaks of
//! fields by meaning — "the genres", "the field called MOOD" — and must not
//! care that ID3v2 keeps several genres in one NUL-separated `TCON` frame,
//! Vorbis comments repeat a `GENRE=` line and MP4 stacks values in one
//! `©gen` atom.
//!
//! Why existing tags are read strictly ([`ParsingMode::Strict`]): a lenient
//! reader drops what it cannot parse, and writing its result back would
//! drop it from the file too. A file whose tags do not read cleanly is left
//! alone, with the reason.

use std::borrow::Cow;
use std::fs::File;
use std::io::Seek;

use lofty::config::{ParseOptions, ParsingMode, WriteOptions};
use lofty::file::{AudioFile as _, FileType};
use lofty::flac::FlacFile;
use lofty::id3::v2::{Frame, FrameId, Id3v2Tag, TextInformationFrame};
use lofty::mp4::{Atom, AtomData, AtomIdent, Ilst, Mp4File};
use lofty::ogg::tag::VorbisComments;
use lofty::ogg::{OpusFile, VorbisFile};
use lofty::probe::Probe;
use lofty::tag::TagExt as _;

/// The `mean` of the MP4 freeform atoms written (`----:com.apple.iTunes:MOOD`),
/// the one iTunes, Picard and foobar2000 use for fields without an atom of their own.
pub const MP4_FREEFORM_MEAN: &str = "com.apple.iTunes";

/// The ID3v2 frame of the genres.
const TCON: &str = "TCON";

/// The MP4 atom of the genres (as text; the numeric `gnre` is left alone).
const MP4_GENRE: AtomIdent<'static> = AtomIdent::Fourcc(*b"\xa9gen");

/// ID3v2.4 (the version written) separates the values of one text frame by NUL.
const ID3V24_SEPARATOR: char = '\0';

/// A field of a file's tag, by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field<'a> {
    /// The genres: `TCON`, `GENRE`, `©gen`.
    Genre,
    /// A field known by name: `TXXX:<name>`, `<name>=`, `----:com.apple.iTunes:<name>`.
    Named(&'a str),
}

/// A file's tag as read, ready to be changed and saved.
pub(super) enum Editable {
    /// An ID3v2 tag (new when the file had none).
    Id3v2(Box<Id3v2Tag>),
    /// The Vorbis comments of an Ogg file (pictures included).
    Vorbis(Box<VorbisComments>),
    /// The `ilst` atom of an MP4 file (new when the file had none).
    Mp4(Box<Ilst>),
    /// A whole FLAC file: its pictures live in blocks beside the comments,
    /// and only the file-level save writes both back.
    Flac(Box<FlacFile>),
}

/// Why a file's tag could not be opened for writing.
pub(super) enum NotEditable {
    /// The format has no tag tuneatlas writes (Matroska, CAF, Ogg FLAC…).
    Format,
    /// The tag is there but did not read cleanly; the reason.
    Unreadable(String),
}

/// How existing tags are read: strictly (see the module docs), cover art
/// included (it is written back), audio properties skipped (not needed).
fn parse_options() -> ParseOptions {
    ParseOptions::new().parsing_mode(ParsingMode::Strict).read_properties(false)
}

/// How tags are written: lofty's defaults (ID3v2.4, other tags in the file
/// kept, padding so that a later edit need not move the audio again).
fn write_options() -> WriteOptions {
    WriteOptions::new()
}

/// True when lofty's reading of a file's format agrees with what the
/// importer's own reader found (its container and codec names). Why ask
/// both: lofty recognises a format by its first bytes and, for MPEG audio,
/// by a frame sync anywhere in the first kilobyte, so it takes some WebM
/// and Ogg FLAC files for MP3 — and would put an ID3v2 tag in front of them.
fn agrees(kind: FileType, container: &str, codec: &str) -> bool {
    match kind {
        FileType::Mpeg => matches!(container, "mp1" | "mp2" | "mp3"),
        FileType::Aac => container == "aac",
        FileType::Wav => container == "wav",
        FileType::Aiff => container == "aiff",
        FileType::Flac => container == "flac",
        FileType::Vorbis => container == "ogg" && codec == "vorbis",
        FileType::Opus => container == "ogg" && codec == "opus",
        FileType::Mp4 => container == "mp4",
        _ => false,
    }
}

/// Reads the tag of the open `file` that tuneatlas writes for its format,
/// recognised by content, which must agree with the `container` and
/// `codec` the importer found. The file is only read.
pub(super) fn read_editable(file: &mut File, container: &str, codec: &str) -> Result<Editable, NotEditable> {
    let unreadable = |e: &dyn std::fmt::Display| NotEditable::Unreadable(e.to_string());
    file.rewind().map_err(|e| unreadable(&e))?;
    let kind = Probe::new(&mut *file)
        .options(parse_options())
        .guess_file_type()
        .map_err(|e| unreadable(&e))?
        .file_type();
    if !kind.is_some_and(|k| agrees(k, container, codec)) {
        return Err(NotEditable::Format);
    }
    file.rewind().map_err(|e| unreadable(&e))?;
    let options = parse_options();
    let id3v2 = |tag: Option<&Id3v2Tag>| Editable::Id3v2(Box::new(tag.cloned().unwrap_or_default()));
    Ok(match kind {
        Some(FileType::Mpeg) => {
            id3v2(lofty::mpeg::MpegFile::read_from(file, options).map_err(|e| unreadable(&e))?.id3v2())
        }
        Some(FileType::Aac) => {
            id3v2(lofty::aac::AacFile::read_from(file, options).map_err(|e| unreadable(&e))?.id3v2())
        }
        Some(FileType::Wav) => {
            id3v2(lofty::iff::wav::WavFile::read_from(file, options).map_err(|e| unreadable(&e))?.id3v2())
        }
        Some(FileType::Aiff) => {
            id3v2(lofty::iff::aiff::AiffFile::read_from(file, options).map_err(|e| unreadable(&e))?.id3v2())
        }
        Some(FileType::Vorbis) => Editable::Vorbis(Box::new(
            VorbisFile::read_from(file, options).map_err(|e| unreadable(&e))?.vorbis_comments().clone(),
        )),
        Some(FileType::Opus) => Editable::Vorbis(Box::new(
            OpusFile::read_from(file, options).map_err(|e| unreadable(&e))?.vorbis_comments().clone(),
        )),
        Some(FileType::Mp4) => Editable::Mp4(Box::new(
            Mp4File::read_from(file, options)
                .map_err(|e| unreadable(&e))?
                .ilst()
                .cloned()
                .unwrap_or_default(),
        )),
        Some(FileType::Flac) => {
            let mut flac = FlacFile::read_from(file, options).map_err(|e| unreadable(&e))?;
            if flac.vorbis_comments().is_none() {
                flac.set_vorbis_comments(VorbisComments::new());
            }
            Editable::Flac(Box::new(flac))
        }
        _ => return Err(NotEditable::Format),
    })
}

/// Splits a stored multi-value text into its values, dropping empty ones.
fn split_values(text: &str) -> Vec<String> {
    text.split(ID3V24_SEPARATOR).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned).collect()
}

fn mp4_ident(field: Field<'_>) -> AtomIdent<'_> {
    match field {
        Field::Genre => MP4_GENRE,
        Field::Named(name) => {
            AtomIdent::Freeform { mean: Cow::Borrowed(MP4_FREEFORM_MEAN), name: Cow::Borrowed(name) }
        }
    }
}

fn vorbis_key(field: Field<'_>) -> &str {
    match field {
        Field::Genre => "GENRE",
        Field::Named(name) => name,
    }
}

impl Editable {
    /// The Vorbis comments being edited, for the two formats that keep them.
    fn comments(&self) -> Option<&VorbisComments> {
        match self {
            Editable::Vorbis(c) => Some(c),
            Editable::Flac(f) => f.vorbis_comments(),
            _ => None,
        }
    }

    /// The values of `field`, in file order (empty when absent).
    pub(super) fn values(&self, field: Field<'_>) -> Vec<String> {
        match self {
            Editable::Id3v2(tag) => {
                let text = match field {
                    Field::Genre => match tag.get(&FrameId::Valid(Cow::Borrowed(TCON))) {
                        Some(Frame::Text(frame)) => Some(frame.value.to_string()),
                        _ => None,
                    },
                    Field::Named(name) => tag.get_user_text(name).map(str::to_owned),
                };
                text.map(|t| split_values(&t)).unwrap_or_default()
            }
            Editable::Mp4(ilst) => ilst
                .get(&mp4_ident(field))
                .map(|atom| {
                    atom.data()
                        .filter_map(|d| match d {
                            AtomData::UTF8(s) | AtomData::UTF16(s) => Some(s.trim().to_owned()),
                            _ => None,
                        })
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            Editable::Vorbis(_) | Editable::Flac(_) => self
                .comments()
                .map(|c| {
                    c.get_all(vorbis_key(field))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Names of every field known by name in the tag (`TXXX` descriptions,
    /// Vorbis keys, MP4 freeform names of [`MP4_FREEFORM_MEAN`]).
    pub(super) fn named_fields(&self) -> Vec<String> {
        match self {
            Editable::Id3v2(tag) => tag
                .iter()
                .filter_map(|f| match f {
                    Frame::UserText(t) => Some(t.description.to_string()),
                    _ => None,
                })
                .collect(),
            Editable::Mp4(ilst) => (&**ilst)
                .into_iter()
                .filter_map(|a| match a.ident() {
                    AtomIdent::Freeform { mean, name } if mean == MP4_FREEFORM_MEAN => Some(name.to_string()),
                    _ => None,
                })
                .collect(),
            Editable::Vorbis(_) | Editable::Flac(_) => {
                self.comments().map(|c| c.items().map(|(k, _)| k.to_owned()).collect()).unwrap_or_default()
            }
        }
    }

    /// Makes `values` the values of `field` (none: removes the field).
    /// Other fields, and their order, stay as they are. Returns whether
    /// anything changed.
    pub(super) fn set(&mut self, field: Field<'_>, values: &[String]) -> bool {
        if self.values(field) == values {
            return false;
        }
        match self {
            Editable::Id3v2(tag) => match field {
                Field::Genre => {
                    tag.retain(|f| f.id_str() != TCON);
                    if !values.is_empty() {
                        let _ = tag.insert(Frame::Text(TextInformationFrame::new(
                            FrameId::Valid(Cow::Borrowed(TCON)),
                            lofty::TextEncoding::UTF8,
                            values.join(&ID3V24_SEPARATOR.to_string()),
                        )));
                    }
                }
                Field::Named(name) => {
                    tag.retain(|f| !matches!(f, Frame::UserText(t) if t.description == name));
                    if !values.is_empty() {
                        let _ =
                            tag.insert_user_text(name.to_owned(), values.join(&ID3V24_SEPARATOR.to_string()));
                    }
                }
            },
            Editable::Mp4(ilst) => {
                let ident = mp4_ident(field);
                ilst.retain(|a| a.ident() != &ident);
                let data = values.iter().map(|v| AtomData::UTF8(v.clone())).collect();
                if let Some(atom) = Atom::from_collection(ident.into_owned(), data) {
                    ilst.insert(atom);
                }
            }
            Editable::Vorbis(_) | Editable::Flac(_) => {
                let comments = match self {
                    Editable::Vorbis(c) => Some(&mut **c),
                    Editable::Flac(f) => f.vorbis_comments_mut(),
                    _ => None,
                };
                let Some(comments) = comments else { return false };
                let key = vorbis_key(field);
                // Rebuilt rather than `remove`d: lofty's `remove` reorders
                // the fields it keeps.
                let kept: Vec<(String, String)> =
                    comments.take_items().filter(|(k, _)| !k.eq_ignore_ascii_case(key)).collect();
                for (k, v) in kept {
                    comments.push(k, v);
                }
                for v in values {
                    comments.push(key.to_owned(), v.clone());
                }
            }
        }
        true
    }

    /// Writes the tag into `file` (a copy of the original; see `replace`),
    /// leaving the rest of the file — the audio above all — as it is.
    pub(super) fn save(&self, file: &mut File) -> Result<(), String> {
        file.rewind().map_err(|e| e.to_string())?;
        let result = match self {
            Editable::Id3v2(tag) => tag.save_to(file, write_options()),
            Editable::Vorbis(comments) => comments.save_to(file, write_options()),
            Editable::Mp4(ilst) => ilst.save_to(file, write_options()),
            Editable::Flac(flac) => flac.save_to(file, write_options()),
        };
        result.map_err(|e| e.to_string())
    }
}
