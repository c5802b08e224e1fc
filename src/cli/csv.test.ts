import { describe, expect, it } from 'vitest';
import { CsvError, CsvRecordReader, parseCsvRecord } from './csv.js';

describe('parseCsvRecord (RFC 4180)', () => {
  it('splits plain fields, keeping empty ones', () => {
    expect(parseCsvRecord('a,b,,d')).toEqual(['a', 'b', '', 'd']);
    expect(parseCsvRecord('')).toEqual(['']);
    expect(parseCsvRecord('a,')).toEqual(['a', '']);
  });

  it('reads quoted fields with commas and doubled quotes', () => {
    expect(parseCsvRecord('"Lovelace, Ada","say ""hi""",x')).toEqual([
      'Lovelace, Ada',
      'say "hi"',
      'x',
    ]);
    expect(parseCsvRecord('""')).toEqual(['']);
    expect(parseCsvRecord('""""')).toEqual(['"']);
    expect(parseCsvRecord('a,""')).toEqual(['a', '']);
    expect(parseCsvRecord('"",""')).toEqual(['', '']);
  });

  it('keeps spaces and the characters of a bcrypt hash as they are', () => {
    expect(parseCsvRecord(' a , b ')).toEqual([' a ', ' b ']);
    const hash = '$2b$04$abcdefghijklmnopqrstuu5sE/7Lh.Wx1k9Gg0Jp1Fw3Zm2vK8yQe';
    expect(parseCsvRecord(`x@example.com,${hash},"a;b"`)).toEqual(['x@example.com', hash, 'a;b']);
  });

  it('says when a quoted field continues on the next line', () => {
    expect(parseCsvRecord('a,"open')).toBeUndefined();
  });

  it('refuses a stray quote', () => {
    expect(() => parseCsvRecord('ab"c,d')).toThrow(CsvError);
    expect(() => parseCsvRecord('"ab"c,d')).toThrow(CsvError);
  });
});

describe('CsvRecordReader', () => {
  it('joins a quoted field across lines and reports where the record started', () => {
    const reader = new CsvRecordReader();
    expect(reader.push('x,"line one', 2)).toBeUndefined();
    expect(reader.push('line two",y', 3)).toEqual({
      fields: ['x', 'line one\nline two', 'y'],
      line: 2,
    });
    expect(reader.push('a,b', 4)).toEqual({ fields: ['a', 'b'], line: 4 });
    expect(() => reader.end()).not.toThrow();
  });

  it('keeps an empty line inside a quoted field, and goes on after a bad record', () => {
    const reader = new CsvRecordReader();
    expect(reader.push('"first', 2)).toBeUndefined();
    expect(reader.push('', 3)).toBeUndefined();
    expect(reader.push('last",z', 4)).toEqual({ fields: ['first\n\nlast', 'z'], line: 2 });
    expect(() => reader.push('a"b,c', 5)).toThrow(expect.objectContaining({ line: 5 }));
    expect(reader.push('d,e', 6)).toEqual({ fields: ['d', 'e'], line: 6 });
  });

  it('an unclosed quote at the end is an error naming its line', () => {
    const reader = new CsvRecordReader();
    reader.push('"never closed', 7);
    expect(() => reader.end()).toThrow(/never closed/);
  });
});
