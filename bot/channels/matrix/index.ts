export { createMatrixChannel, type MatrixChannelOptions } from "./matrix-channel.js";
