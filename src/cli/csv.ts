/** A record that could not be read: a stray quote, or a quoted field left open. */
export class CsvError extends Error {}

/**
 * Splits one RFC 4180 record into fields; `undefined` when a quoted field is still open at
 * the end of the text (it continues on the next line).
 */
export function parseCsvRecord(text: string): string[] | undefined {
  const fields: string[] = [];
  let field = '';
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      // A quoted field: "" is a quote; the closing quote must end the field.
      i += 1;
      for (;;) {
        if (i >= text.length) return undefined;
        const char = text[i]!;
        if (char === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        field += char;
        i += 1;
      }
      if (i < text.length && text[i] !== ',')
        throw new CsvError('a quoted field must end at a comma or the end of the line');
    } else {
      while (i < text.length && text[i] !== ',') {
        if (text[i] === '"') throw new CsvError('a field with a quote in it must be quoted');
        field += text[i]!;
        i += 1;
      }
    }
    fields.push(field);
    field = '';
    if (i >= text.length) return fields;
    i += 1; // the comma
  }
}

/**
 * Turns lines into CSV records, joining the lines of a quoted field that spans several.
 * Each record remembers the line it started on, for reports.
 */
export class CsvRecordReader {
  #pending: string | undefined;
  #pendingLine = 0;

  /** Feeds one line (without its line break); returns a complete record, if one ended here. */
  push(line: string, lineNumber: number): { fields: string[]; line: number } | undefined {
    const text = this.#pending === undefined ? line : `${this.#pending}\n${line}`;
    const startLine = this.#pending === undefined ? lineNumber : this.#pendingLine;
    try {
      const fields = parseCsvRecord(text);
      if (fields === undefined) {
        this.#pending = text;
        this.#pendingLine = startLine;
        return undefined;
      }
      this.#pending = undefined;
      return { fields, line: startLine };
    } catch (error) {
      this.#pending = undefined;
      throw Object.assign(error as Error, { line: startLine });
    }
  }

  /** Call at the end of input: an open quoted field is an error. */
  end(): void {
    if (this.#pending !== undefined) {
      const line = this.#pendingLine;
      this.#pending = undefined;
      throw Object.assign(new CsvError('a quoted field is never closed'), { line });
    }
  }
}
