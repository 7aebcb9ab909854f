import { SdError } from '../src/core/errors.ts';

/** The file name a URL's Content-Disposition or its last path segment gives. */
function fileNameOf(url: string, response: Response): string | undefined {
  const disposition = response.headers.get('content-disposition') ?? '';
  const quoted = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition)?.[1];
  if (quoted !== undefined) return decodeURIComponent(quoted);
  const last = new URL(url).pathname.split('/').pop();
  return last === undefined || last === '' ? undefined : decodeURIComponent(last);
}

async function fetchOrThrow(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (cause) {
    throw new SdError('network', `Could not fetch ${url} (${String(cause)}). Check the address and the network.`, {
      cause,
    });
  }
}

/**
 * A `.safetensors` file a panel adds by URL (a LoRA, a ControlNet), with its file name. `what` names
 * the kind of file in messages ("LoRA"); anything but a `.safetensors` file is refused.
 */
export async function fetchSafetensors(url: string, what: string): Promise<{ fileName: string; blob: Blob }> {
  const response = await fetchOrThrow(url);
  if (!response.ok)
    throw new SdError('network', `${url} answered ${response.status}: expected a ${what} .safetensors file.`);
  const fileName = fileNameOf(url, response);
  if (fileName === undefined || !/\.safetensors$/i.test(fileName)) {
    throw new SdError(
      'bad-argument',
      `${url} does not name a .safetensors file (${fileName ?? 'no file name'}): download it and add the file instead.`,
    );
  }
  return { fileName, blob: await response.blob() };
}

/** A file that may be missing (404: undefined), e.g. the config.json beside a diffusers folder's weights. */
export async function fetchOptional(url: string): Promise<Blob | undefined> {
  const response = await fetchOrThrow(url);
  if (response.status === 404) return undefined;
  if (!response.ok) throw new SdError('network', `${url} answered ${response.status}.`);
  return response.blob();
}
