/// <reference types="vite/client" />
// The WebGPU types the library is written against (the same ones its Node build sees).
/// <reference types="webgpu/types" />
