"""Auto Scaling lifecycle actions: telling a terminate hook that Ferry is done with the instance.

An Auto Scaling group whose terminate hook Ferry's rule routes waits for CONTINUE (or the hook's timeout)
before it terminates the instance; DrainNode sends CONTINUE once the node is drained or its deadline has
come. An action that is no longer pending (completed by someone else, or timed out) is not an error: the
instance goes either way, and there is nothing left to tell.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ferry.adapters.aws import translate_error

CONTINUE = "CONTINUE"


class LifecycleActions:
    def __init__(self, autoscaling: Any) -> None:
        self._autoscaling = autoscaling

    def complete(self, *, group: str, hook: str, token: str, instance_id: str) -> bool:
        """CONTINUE; False if the action was no longer pending (AWS answers ValidationError)."""
        try:
            self._autoscaling.complete_lifecycle_action(
                AutoScalingGroupName=group,
                LifecycleHookName=hook,
                LifecycleActionToken=token,
                InstanceId=instance_id,
                LifecycleActionResult=CONTINUE,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationError":
                return False
            raise translate_error(error) from error
        except BotoCoreError as error:
            raise translate_error(error) from error
        return True
