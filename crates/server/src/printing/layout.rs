//! Where a ticket's parts sit in its cell: the event, the attendee's name and the section across
//! the top, each cut to the cell's width; the QR code in the lower right; the code beside it,
//! whole, set smaller if it must be. Every part is a box, so a test can show that no text
//! touches the QR code however long the names.

use super::helvetica::Face;

/// A rectangle in points: lower-left corner, width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl Area {
    pub fn intersects(&self, other: &Area) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    pub fn contains(&self, other: &Area) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.x + other.width <= self.x + self.width
            && other.y + other.height <= self.y + self.height
    }
}

/// One line of text: its face and size, where its baseline starts, and the WinAnsi bytes shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub face: Face,
    pub size: f32,
    pub x: f32,
    pub baseline: f32,
    pub text: Vec<u8>,
}

impl Line {
    /// The area the line's glyphs may cover: from below the descenders to above accented
    /// capitals (Helvetica's descender is 0.207 of the size, an accented capital 0.93).
    pub fn area(&self) -> Area {
        Area {
            x: self.x,
            y: self.baseline - 0.21 * self.size,
            width: self.face.width(&self.text, self.size),
            height: 1.14 * self.size,
        }
    }
}

/// A ticket laid out in a cell whose lower-left corner is (0, 0).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketLayout {
    pub lines: Vec<Line>,
    pub qr: Area,
    /// Where anything may be drawn: the cell inside its frame and padding.
    pub inner: Area,
}

/// The QR code's side: about 35 mm, read by a phone's camera from a printed sheet.
const QR_SIDE: f32 = 100.0;
/// From the cell's edge to anything drawn in it: the frame's inset and padding.
const PADDING: f32 = 14.0;
/// Between the code and the QR code.
const GUTTER: f32 = 8.0;
/// The code's size when it fits; it is set smaller when it must be, never cut.
const CODE_SIZE: f32 = 12.0;

/// What a ticket shows, as WinAnsi text.
pub struct TicketText<'a> {
    pub event: &'a [u8],
    pub name: &'a [u8],
    pub section: &'a [u8],
    pub code: &'a [u8],
}

pub fn ticket(width: f32, height: f32, text: &TicketText<'_>) -> TicketLayout {
    let inner = Area {
        x: PADDING,
        y: PADDING,
        width: width - 2.0 * PADDING,
        height: height - 2.0 * PADDING,
    };
    let qr = Area {
        x: inner.x + inner.width - QR_SIDE,
        y: inner.y,
        width: QR_SIDE,
        height: QR_SIDE,
    };
    let mut lines = Vec::new();
    let mut baseline = inner.y + inner.height;
    for (face, size, shown) in [
        (Face::Regular, 9.0, text.event),
        (Face::Bold, 13.0, text.name),
        (Face::Regular, 10.0, text.section),
    ] {
        baseline -= size;
        lines.push(Line {
            face,
            size,
            x: inner.x,
            baseline,
            text: cut_to(face, size, shown, inner.width),
        });
        baseline -= 6.0;
    }
    // Beside the QR code, bottom-aligned with it: "Code:" and the code under it.
    let beside = qr.x - GUTTER - inner.x;
    let code_size = fitting_size(Face::Bold, text.code, CODE_SIZE, beside);
    let code_baseline = inner.y + 0.21 * code_size;
    lines.push(Line {
        face: Face::Regular,
        size: 9.0,
        x: inner.x,
        baseline: code_baseline + 1.14 * code_size + 2.0,
        text: b"Code:".to_vec(),
    });
    lines.push(Line {
        face: Face::Bold,
        size: code_size,
        x: inner.x,
        baseline: code_baseline,
        text: text.code.to_vec(),
    });
    TicketLayout { lines, qr, inner }
}

/// `text` as it fits in `width`: whole, or cut with an ellipsis (WinAnsi 0x85).
fn cut_to(face: Face, size: f32, text: &[u8], width: f32) -> Vec<u8> {
    if face.width(text, size) <= width {
        return text.to_vec();
    }
    let mut cut = text.to_vec();
    while !cut.is_empty() {
        cut.pop();
        let shown = [cut.as_slice(), b"\x85"].concat();
        if face.width(&shown, size) <= width {
            return shown;
        }
    }
    Vec::new()
}

/// The largest size up to `size` at which `text` fits in `width`.
fn fitting_size(face: Face, text: &[u8], size: f32, width: f32) -> f32 {
    let at_size = face.width(text, size);
    if at_size <= width {
        size
    } else {
        // A hair under the exact fit, so rounding never takes it over.
        size * width / at_size * 0.999
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cell of the A4 sheet (2 × 4 tickets).
    const CELL: (f32, f32) = (261.5, 192.5);

    fn laid_out(name: &[u8], section: &[u8], code: &[u8]) -> TicketLayout {
        ticket(
            CELL.0,
            CELL.1,
            &TicketText {
                event: name,
                name,
                section,
                code,
            },
        )
    }

    #[test]
    fn no_text_touches_the_qr_code_for_the_longest_names() {
        // 200 characters is the longest name an attendee may have; W is the widest letter.
        let longest = vec![b'W'; 200];
        for (name, code) in [
            (longest.as_slice(), b"WWWWW-WWWWW".as_slice()),
            (b"Siti Rahma".as_slice(), b"7WNQA-XV04N".as_slice()),
            (
                b"\xc9lodie \xc5ngstr\xf6m-M\xfcller".as_slice(),
                b"MMMMM-MMMMM-MMMMM".as_slice(),
            ),
        ] {
            let layout = laid_out(name, name, code);
            assert!(layout.inner.contains(&layout.qr));
            for line in &layout.lines {
                let area = line.area();
                assert!(
                    !area.intersects(&layout.qr),
                    "{line:?} runs into the QR code"
                );
                assert!(layout.inner.contains(&area), "{line:?} leaves the cell");
            }
            // The code is always shown whole.
            assert!(layout.lines.iter().any(|line| line.text == code));
        }
    }

    #[test]
    fn a_short_ticket_is_shown_whole_and_a_long_name_is_cut_with_an_ellipsis() {
        let layout = laid_out(b"Budi Santoso", b"Hall A", b"7WNQA-XV04N");
        let texts: Vec<&[u8]> = layout.lines.iter().map(|l| l.text.as_slice()).collect();
        assert_eq!(texts[1], b"Budi Santoso");
        assert_eq!(
            layout.lines[4].size, CODE_SIZE,
            "a usual code fits at full size"
        );
        let long = laid_out(&[b'W'; 200], b"Hall A", b"7WNQA-XV04N");
        let name = &long.lines[1].text;
        assert!(name.len() < 200 && name.ends_with(b"\x85"), "{name:?}");
    }
}
