//! Positions: flashc's (1-based line, 0-based column in characters), byte offsets, and LSP's
//! (0-based line, 0-based column in UTF-16 code units). Lines end at `\n`, `\r\n` or `\r`, as
//! both YAML and LSP count them.

use lsp_types::{Position, Range};

use crate::load::{Pos, Span};

/// Where each line of a text starts, for conversions in both directions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    /// Byte offset of each line's first character.
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 1;
                }
                b'\r' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The text of 0-based line `line`, without its line break (empty past the end).
    pub fn line<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let Some(&start) = self.starts.get(line) else {
            return "";
        };
        let end = self.starts.get(line + 1).copied().unwrap_or(self.len);
        text.get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }

    /// Byte offset of the start of 0-based line `line` (the end of the text past the last).
    pub fn line_start(&self, line: usize) -> usize {
        self.starts.get(line).copied().unwrap_or(self.len)
    }

    /// The 0-based line holding byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// A flashc position as a byte offset (columns past the line's end clamp to it).
    pub fn offset_of_pos(&self, text: &str, pos: Pos) -> usize {
        let line = pos.line.saturating_sub(1) as usize;
        if line >= self.starts.len() {
            return self.len;
        }
        let start = self.starts[line];
        let content = self.line(text, line);
        start + byte_of_char(content, pos.col as usize)
    }

    /// An LSP position as a byte offset (clamped to the line and the text).
    pub fn offset_of_lsp(&self, text: &str, pos: Position) -> usize {
        let line = pos.line as usize;
        if line >= self.starts.len() {
            return self.len;
        }
        let start = self.starts[line];
        let content = self.line(text, line);
        start + byte_of_utf16(content, pos.character as usize)
    }

    pub fn lsp_of_offset(&self, text: &str, offset: usize) -> Position {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.line_of(offset);
        let start = self.starts[line];
        let content = self.line(text, line);
        let within = content
            .get(..(offset - start).min(content.len()))
            .unwrap_or("");
        Position::new(line as u32, within.encode_utf16().count() as u32)
    }

    pub fn pos_of_offset(&self, text: &str, offset: usize) -> Pos {
        let offset = floor_char_boundary(text, offset.min(self.len));
        let line = self.line_of(offset);
        let start = self.starts[line];
        let content = self.line(text, line);
        let within = content
            .get(..(offset - start).min(content.len()))
            .unwrap_or("");
        Pos {
            line: line as u32 + 1,
            col: within.chars().count() as u32,
        }
    }

    /// A flashc position in LSP terms.
    pub fn lsp_of_pos(&self, text: &str, pos: Pos) -> Position {
        self.lsp_of_offset(text, self.offset_of_pos(text, pos))
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        let start = self.lsp_of_pos(text, span.start);
        let end = self.lsp_of_pos(text, span.end);
        Range::new(start, if end < start { start } else { end })
    }

    /// A span as byte offsets, `start <= end`.
    pub fn offsets(&self, text: &str, span: Span) -> (usize, usize) {
        let start = self.offset_of_pos(text, span.start);
        let end = self.offset_of_pos(text, span.end).max(start);
        (start, end)
    }

    pub fn range_of_offsets(&self, text: &str, start: usize, end: usize) -> Range {
        Range::new(
            self.lsp_of_offset(text, start),
            self.lsp_of_offset(text, end),
        )
    }
}

/// The byte offset of character `col` in `line` (its length past the end).
fn byte_of_char(line: &str, col: usize) -> usize {
    line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

/// The byte offset of UTF-16 column `col` in `line` (inside a surrogate pair: the character's
/// start; past the end: the length).
fn byte_of_utf16(line: &str, col: usize) -> usize {
    let mut units = 0;
    for (i, c) in line.char_indices() {
        if units >= col {
            return i;
        }
        units += c.len_utf16();
        if units > col {
            return i;
        }
    }
    line.len()
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A position in a line of another file (a Rust file's) in UTF-16: `col` counts characters.
pub fn utf16_col(line: &str, col: u32) -> u32 {
    line.chars()
        .take(col as usize)
        .map(|c| c.len_utf16() as u32)
        .sum::<u32>()
        + col.saturating_sub(line.chars().count() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_and_line_breaks() {
        let text = "a: é\r\nb: 😀x\rc\n";
        let index = LineIndex::new(text);
        assert_eq!(index.line_count(), 4);
        assert_eq!(index.line(text, 1), "b: 😀x");
        // `x` is the 5th character of line 2 but column 5 in UTF-16 (the emoji takes two).
        let x = Pos { line: 2, col: 4 };
        assert_eq!(index.lsp_of_pos(text, x), Position::new(1, 5));
        let offset = index.offset_of_lsp(text, Position::new(1, 5));
        assert_eq!(&text[offset..offset + 1], "x");
        assert_eq!(index.pos_of_offset(text, offset), x);
        // Inside the surrogate pair: the emoji's start. Past the end: the line's end.
        assert_eq!(index.offset_of_lsp(text, Position::new(1, 4)), offset - 4);
        assert_eq!(index.lsp_of_offset(text, text.len()), Position::new(3, 0));
        assert_eq!(index.offset_of_lsp(text, Position::new(9, 9)), text.len());
        assert_eq!(index.offset_of_lsp(text, Position::new(0, 99)), 5);
        assert_eq!(utf16_col("😀ab", 2), 3);
    }
}
