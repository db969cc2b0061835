/** Whether this machine stores numbers little-endian (typed arrays use the host's byte order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
