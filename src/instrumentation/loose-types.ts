/*
 * The default types of a decorated method's arguments and result in option callbacks. A decorator
 * is evaluated before TypeScript relates it to the method, so it cannot infer them; loose defaults
 * keep `({ args: [file] }) => file.size` writable without annotations. Pass the type parameters
 * (`@TrackUpload<[UploadedFile]>(...)`) to have them checked.
 */

/** The default type of a decorated method's arguments in option callbacks: `any[]` until you pass your own. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyArgs = any[];
/** The default type of a decorated method's result in option callbacks: `any` until you pass your own. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyResult = any;
