/** What a test client of the API sends: the test keys, a PNG's bytes, authorised JSON requests and upload forms. */
export const TEST_KEY = 'pk_test_owner_one';
export const OTHER_KEY = 'pk_test_owner_two';
export const PNG_BYTES = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

export function authed(key = TEST_KEY, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } };
}

/** The form a client posts: the returned fields, then the file last (as S3 requires). */
export function uploadForm(fields: Record<string, string>, file: Uint8Array, type = 'image/png'): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append('file', new Blob([file.slice().buffer], { type }), 'image');
  return form;
}
