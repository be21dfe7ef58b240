/**
 * Issue 21 item 9: the label values the library reserves, and how a value from input equal to one
 * of them is recorded (escaped, once: every stage that bounds a value may run the rule again).
 */
import {
  ANONYMOUS_OPERATION,
  NO_EXCEPTION_ERROR_TYPE,
  OTHER_ERROR_TYPE,
  OTHER_OPERATION_NAME,
  PREFLIGHT_ENDPOINT,
  UNMATCHED_ENDPOINT,
} from '../../src';
import { boundedLabel } from '../../src/instrumentation/labels';
import {
  INVALID_LABEL_VALUE,
  OVERFLOW_LABEL_VALUE,
  RESERVED_LABEL_VALUES,
  inputLabelValue,
  sanitizeLabelValue,
} from '../../src/registry/series-guard';

describe('reserved label values', () => {
  it('lists every value the recorders and the series guard choose themselves', () => {
    expect([...RESERVED_LABEL_VALUES].sort()).toEqual(
      [
        OVERFLOW_LABEL_VALUE,
        INVALID_LABEL_VALUE,
        UNMATCHED_ENDPOINT,
        PREFLIGHT_ENDPOINT,
        NO_EXCEPTION_ERROR_TYPE,
        OTHER_ERROR_TYPE,
        ANONYMOUS_OPERATION,
        OTHER_OPERATION_NAME,
      ].sort(),
    );
  });

  it.each(RESERVED_LABEL_VALUES)(
    'a value from input equal to %s is recorded with a backslash in front, once',
    (value) => {
      const escaped = `\\${value}`;
      expect(inputLabelValue(value)).toBe(escaped);
      expect(boundedLabel(value)).toBe(escaped);
      expect(inputLabelValue(escaped)).toBe(escaped);
      expect(sanitizeLabelValue(inputLabelValue(escaped))).toBe(escaped);
    },
  );

  it("the guard's own values are escaped by the guard's sanitiser whoever recorded them; the recorders' only on the input path", () => {
    expect(sanitizeLabelValue('__overflow__')).toBe('\\__overflow__');
    expect(sanitizeLabelValue('__invalid__')).toBe('\\__invalid__');
    expect(sanitizeLabelValue({})).toBe('__invalid__');
    expect(sanitizeLabelValue('<unmatched>')).toBe('<unmatched>');
    expect(sanitizeLabelValue('OtherError')).toBe('OtherError');
    expect(inputLabelValue('OtherErrors')).toBe('OtherErrors');
    expect(inputLabelValue('x__overflow__')).toBe('x__overflow__');
  });
});
