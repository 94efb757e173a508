// Module state lives as long as its instance (as in Workers): each warm instance counts its own
// requests, and an instance recycled after a limit error starts again from 0.
let served = 0;

export default () => ({ served: ++served });
