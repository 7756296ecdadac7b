//! How wide Helvetica and Helvetica-Bold set each WinAnsi character from 0x20 to 0xFF, in
//! thousandths of the font size: what the PDF's text is laid out with, so that no line runs into
//! the QR code. (The PDF names the standard fonts and carries no widths of its own; every viewer
//! sets them with Helvetica's metrics or a face made to match them.) Generated from Liberation
//! Sans, whose advance widths are Helvetica's (it was made metric-compatible with Arial, which
//! was made to match Helvetica); 0x7F and the five codes WinAnsi leaves undefined are never shown (0).

const REGULAR: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 222, 222,
    333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    260, 556, 333, 737, 370, 556, 584, 333, 737, 552, 400, 549, 333, 333, 333, 576, 537, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 549, 611, 556, 556, 556, 556, 500, 556, 500,
];
const BOLD: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    0, 556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0, 0, 278, 278,
    500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667, 278, 333, 556, 556, 556, 556,
    280, 556, 333, 737, 370, 556, 584, 333, 737, 552, 400, 549, 333, 333, 333, 576, 556, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667,
    278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667,
    611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611,
    611, 611, 611, 611, 611, 549, 611, 611, 611, 611, 611, 556, 611, 556,
];

/// One of the two faces tickets are set in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
}

impl Face {
    /// The width of `text` (WinAnsi bytes) set at `size` points.
    pub fn width(self, text: &[u8], size: f32) -> f32 {
        let table = match self {
            Face::Regular => &REGULAR,
            Face::Bold => &BOLD,
        };
        let units: u32 = text
            .iter()
            .map(|&byte| match byte {
                0x20..=0xff => u32::from(table[usize::from(byte - 0x20)]),
                _ => 0,
            })
            .sum();
        units as f32 * size / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_helveticas() {
        // Helvetica's own metrics (Adobe's): space 278, W 944 bold and regular, i 222 / 278.
        assert_eq!(Face::Regular.width(b" ", 1000.0), 278.0);
        assert_eq!(Face::Regular.width(b"W", 1000.0), 944.0);
        assert_eq!(Face::Bold.width(b"W", 1000.0), 944.0);
        assert_eq!(Face::Regular.width(b"i", 1000.0), 222.0);
        assert_eq!(Face::Bold.width(b"i", 1000.0), 278.0);
        assert_eq!(Face::Bold.width(b"Code", 10.0), 25.0);
        assert_eq!(Face::Regular.width(b"\x85", 1000.0), 1000.0, "the ellipsis");
    }
}
