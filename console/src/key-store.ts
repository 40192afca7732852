/** The API key for this tab only: sessionStorage, never a URL or a cookie. */
const NAME = 'preciseinv.apiKey';

export const keyStore = {
  get: (): string | undefined => sessionStorage.getItem(NAME) ?? undefined,
  set: (key: string): void => sessionStorage.setItem(NAME, key),
  clear: (): void => sessionStorage.removeItem(NAME),
};
