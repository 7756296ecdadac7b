//! What a ticket looks like on paper and screens: QR codes as SVG and PNG, drawn from the QR
//! module matrix, and a printable PDF of tickets in a grid, each with its QR code as an image.
//!
//! - [`layout`]: where a ticket's text and QR code sit in its cell, as boxes that never meet.
//! - [`helvetica`]: the widths of the two faces the text is set in.

mod helvetica;
pub mod layout;

use helvetica::Face;

use allot_store::tickets::PrintableTicket;
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};

/// Light modules around the code, as the QR specification asks.
const QUIET_ZONE: usize = 4;

/// A QR code's dark modules, row by row, with its quiet zone: `size` × `size`.
pub struct QrMatrix {
    pub size: usize,
    pub dark: Vec<bool>,
}

impl QrMatrix {
    pub fn encode(data: &str) -> Result<QrMatrix, qrcode::types::QrError> {
        let code = qrcode::QrCode::new(data.as_bytes())?;
        let width = code.width();
        let size = width + 2 * QUIET_ZONE;
        let mut dark = vec![false; size * size];
        for (index, color) in code.to_colors().into_iter().enumerate() {
            let (x, y) = (index % width, index / width);
            dark[(y + QUIET_ZONE) * size + x + QUIET_ZONE] = color == qrcode::Color::Dark;
        }
        Ok(QrMatrix { size, dark })
    }

    fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.size + x]
    }

    /// One unit per module; one path of unit squares.
    pub fn svg(&self) -> String {
        use std::fmt::Write;
        let size = self.size;
        let mut path = String::with_capacity(self.dark.len() * 4);
        for y in 0..size {
            for x in 0..size {
                if self.is_dark(x, y) {
                    let _ = write!(path, "M{x} {y}h1v1h-1z");
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{px}\" height=\"{px}\" shape-rendering=\"crispEdges\">\
             <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\"{path}\"/></svg>",
            px = size * 8
        )
    }

    /// 8-bit grayscale, `scale` pixels per module.
    pub fn gray_pixels(&self, scale: usize) -> (usize, Vec<u8>) {
        let side = self.size * scale;
        let mut pixels = vec![255u8; side * side];
        for y in 0..side {
            for x in 0..side {
                if self.is_dark(x / scale, y / scale) {
                    pixels[y * side + x] = 0;
                }
            }
        }
        (side, pixels)
    }

    pub fn png(&self, scale: usize) -> Result<Vec<u8>, png::EncodingError> {
        let (side, pixels) = self.gray_pixels(scale);
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&pixels)?;
        writer.finish()?;
        Ok(out)
    }
}

/// WinAnsi bytes for the standard Helvetica font: Latin-1 passes, anything else becomes `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match u32::from(c) {
            code @ (0x20..=0x7e | 0xa0..=0xff) => code as u8,
            _ => WIN_ANSI_EXTRAS
                .iter()
                .find(|(extra, _)| *extra == c)
                .map_or(b'?', |(_, byte)| *byte),
        })
        .collect()
}

/// The characters WinAnsi (Windows-1252) puts at 0x80–0x9F, where Latin-1 has controls: dashes,
/// curly quotes, the ellipsis, the euro sign, and letters such as Š and Ž.
const WIN_ANSI_EXTRAS: [(char, u8); 27] = [
    ('\u{20ac}', 0x80),
    ('\u{201a}', 0x82),
    ('\u{0192}', 0x83),
    ('\u{201e}', 0x84),
    ('\u{2026}', 0x85),
    ('\u{2020}', 0x86),
    ('\u{2021}', 0x87),
    ('\u{02c6}', 0x88),
    ('\u{2030}', 0x89),
    ('\u{0160}', 0x8a),
    ('\u{2039}', 0x8b),
    ('\u{0152}', 0x8c),
    ('\u{017d}', 0x8e),
    ('\u{2018}', 0x91),
    ('\u{2019}', 0x92),
    ('\u{201c}', 0x93),
    ('\u{201d}', 0x94),
    ('\u{2022}', 0x95),
    ('\u{2013}', 0x96),
    ('\u{2014}', 0x97),
    ('\u{02dc}', 0x98),
    ('\u{2122}', 0x99),
    ('\u{0161}', 0x9a),
    ('\u{203a}', 0x9b),
    ('\u{0153}', 0x9c),
    ('\u{017e}', 0x9e),
    ('\u{0178}', 0x9f),
];

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const COLUMNS: usize = 2;
const ROWS: usize = 4;
const MARGIN: f32 = 36.0;

/// A printed ticket: its text and the data its QR code carries.
pub struct PrintItem<'a> {
    pub ticket: &'a PrintableTicket,
    pub qr_data: String,
}

/// A4 pages with a grid of 2 × 4 tickets, each framed, laid out by [`layout::ticket`]: the
/// event, name, section, code and its QR code (one image per ticket, one pixel per module,
/// scaled without smoothing).
pub fn tickets_pdf(event_name: &str, items: &[PrintItem<'_>]) -> Result<Vec<u8>, String> {
    let per_page = COLUMNS * ROWS;
    let pages = items.len().div_ceil(per_page).max(1);
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let font_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let mut next = 5;
    let mut alloc = || {
        let id = Ref::new(next);
        next += 1;
        id
    };
    let page_ids: Vec<(Ref, Ref)> = (0..pages).map(|_| (alloc(), alloc())).collect();
    let image_ids: Vec<Ref> = items.iter().map(|_| alloc()).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(pages as i32);
    pdf.type1_font(font_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));

    let cell_width = (PAGE_WIDTH - 2.0 * MARGIN) / COLUMNS as f32;
    let cell_height = (PAGE_HEIGHT - 2.0 * MARGIN) / ROWS as f32;
    for (page_index, (page_id, content_id)) in page_ids.iter().enumerate() {
        let first = page_index * per_page;
        let on_page = &items[first.min(items.len())..(first + per_page).min(items.len())];
        let names: Vec<String> = (0..on_page.len())
            .map(|i| format!("Qr{}", first + i))
            .collect();
        {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
                .parent(tree_id)
                .contents(*content_id);
            let mut resources = page.resources();
            resources
                .fonts()
                .pair(Name(b"F1"), font_id)
                .pair(Name(b"F2"), bold_id);
            let mut x_objects = resources.x_objects();
            for (i, name) in names.iter().enumerate() {
                x_objects.pair(Name(name.as_bytes()), image_ids[first + i]);
            }
        }
        let mut content = Content::new();
        for (i, item) in on_page.iter().enumerate() {
            let column = i % COLUMNS;
            let row = i / COLUMNS;
            let x = MARGIN + column as f32 * cell_width;
            let y = PAGE_HEIGHT - MARGIN - (row + 1) as f32 * cell_height;
            content
                .set_stroke_gray(0.6)
                .set_line_width(0.5)
                .rect(x + 4.0, y + 4.0, cell_width - 8.0, cell_height - 8.0)
                .stroke();
            let ticket = item.ticket;
            let section = format!(
                "Section: {}",
                ticket.section_name.as_deref().unwrap_or("general")
            );
            let (event, name, section, code) = (
                win_ansi(event_name),
                win_ansi(&ticket.attendee_name),
                win_ansi(&section),
                win_ansi(&ticket.ticket.code),
            );
            let text = layout::TicketText {
                event: &event,
                name: &name,
                section: &section,
                code: &code,
            };
            let placed = layout::ticket(cell_width, cell_height, &text);
            for line in &placed.lines {
                let font = match line.face {
                    Face::Regular => Name(b"F1"),
                    Face::Bold => Name(b"F2"),
                };
                content
                    .begin_text()
                    .set_font(font, line.size)
                    .next_line(x + line.x, y + line.baseline)
                    .show(Str(&line.text))
                    .end_text();
            }
            let qr = placed.qr;
            content
                .save_state()
                .transform([qr.width, 0.0, 0.0, qr.height, x + qr.x, y + qr.y])
                .x_object(Name(names[i].as_bytes()))
                .restore_state();
        }
        let content = content.finish();
        pdf.stream(*content_id, &content);
    }
    for (item, image_id) in items.iter().zip(&image_ids) {
        let matrix = QrMatrix::encode(&item.qr_data).map_err(|e| e.to_string())?;
        let (side, pixels) = matrix.gray_pixels(1);
        let mut image = pdf.image_xobject(*image_id, &pixels);
        image.width(side as i32).height(side as i32);
        image.color_space().device_gray();
        image.bits_per_component(8).interpolate(false);
    }
    Ok(pdf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_qr_matrix_has_its_quiet_zone_and_finder_patterns() {
        let matrix = QrMatrix::encode("https://tickets.example/t/abc").expect("encodes");
        assert!(matrix.size >= 21 + 2 * QUIET_ZONE);
        assert!(!matrix.is_dark(0, 0));
        // The top-left finder pattern's corner.
        assert!(matrix.is_dark(QUIET_ZONE, QUIET_ZONE));
        let svg = matrix.svg();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        let png = matrix.png(4).expect("a png");
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn text_is_set_in_win_ansi_and_what_it_lacks_is_replaced() {
        assert_eq!(win_ansi("Zoë 李"), b"Zo\xeb ?".to_vec());
        assert_eq!(
            win_ansi("Šárka — “Ž”…"),
            b"\x8a\xe1rka \x97 \x93\x8e\x94\x85".to_vec()
        );
    }
}
