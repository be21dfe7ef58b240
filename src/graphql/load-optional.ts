export { loadOptionalPeer } from '../compat/optional-peers';
